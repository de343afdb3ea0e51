"""Hole 4 of issue 14: limits that hold against a rotated X-Forwarded-For, and sliding windows."""

import threading
import time
from types import SimpleNamespace

import httpx
import pytest
import uvicorn
from limits.aio.storage import MemoryStorage
from pydantic import ValidationError

from api.auth.throttle import RateLimiter
from api.serve import uvicorn_config
from core.config import ApiSettings, Settings
from core.config_auth import AuthSettings
from core.local_services import free_port
from tests.api.auth.conftest import PASSWORD, RAISED, next_phone


@pytest.fixture
def serve():
    """Start the app the way ``waterbill api`` does, on a free loopback port."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(settings: Settings) -> str:
        port = free_port()
        server = uvicorn.Server(uvicorn_config(settings, host="127.0.0.1", port=port))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=20)


def tight(settings: Settings, limits: dict[str, int], *, proxies: str = "") -> Settings:
    auth = AuthSettings.model_validate({**RAISED, "code_cooldown_s": 0, **limits})
    api = settings.api.model_copy(update={"forwarded_allow_ips": proxies})
    return settings.model_copy(update={"default_country": "CM", "auth": auth, "api": api})


CALLS = {
    "throttle_login": ("/auth/login", lambda: {"phone": next_phone(), "password": PASSWORD}),
    "throttle_register": (
        "/auth/register",
        lambda: {"phone": next_phone(), "first_name": "A", "last_name": "B", "password": PASSWORD},
    ),
    "throttle_activate": ("/auth/activate", lambda: {"phone": next_phone(), "code": "123456"}),
}


@pytest.mark.services
class TestForwardedFor:
    @pytest.mark.parametrize("limit", list(CALLS))
    def test_a_rotated_header_from_loopback_is_still_one_client(self, settings, serve, limit):
        path, body = CALLS[limit]
        url = serve(tight(settings, {limit: 3}))
        with httpx.Client(base_url=url) as http:
            answers = [
                http.post(path, json=body(), headers={"X-Forwarded-For": f"203.0.113.{n}"})
                for n in range(5)
            ]
        codes = [answer.status_code for answer in answers]
        assert 429 not in codes[:3], codes
        assert codes[3:] == [429, 429], codes

    def test_behind_a_trusted_proxy_each_forwarded_client_counts_alone(self, settings, serve):
        url = serve(tight(settings, {"throttle_login": 2}, proxies="127.0.0.1"))
        path, body = CALLS["throttle_login"]
        with httpx.Client(base_url=url) as http:
            codes = [
                http.post(path, json=body(), headers={"X-Forwarded-For": f"203.0.113.{n}"})
                for n in range(5)
            ]
            same = [
                http.post(path, json=body(), headers={"X-Forwarded-For": "198.51.100.7"})
                for _ in range(3)
            ]
        assert [answer.status_code for answer in codes] == [401] * 5
        assert [answer.status_code for answer in same] == [401, 401, 429]


class TestForwardedAllowIpsSetting:
    def test_nothing_is_trusted_by_default(self):
        assert ApiSettings().forwarded_allow_ips == ""
        config = uvicorn_config(Settings())
        assert config.forwarded_allow_ips == []

    def test_addresses_and_networks_reach_uvicorn(self):
        api = ApiSettings(forwarded_allow_ips="10.0.0.0/8, 192.0.2.1,::1")
        config = uvicorn_config(Settings(api=api))
        assert config.forwarded_allow_ips == ["10.0.0.0/8", "192.0.2.1", "::1"]

    def test_a_host_name_is_refused_clearly(self):
        with pytest.raises(ValidationError, match="'proxy.local' is neither an IP address"):
            ApiSettings(forwarded_allow_ips="proxy.local")


class TestSlidingWindow:
    async def test_the_limit_holds_across_a_minute_boundary(self, monkeypatch):
        clock = SimpleNamespace(now=1_000_020.0)  # 40 s before a whole minute (1_000_060)
        # The library's clock, and ours that turns its reset time into Retry-After.
        fake_time = SimpleNamespace(time=lambda: clock.now)
        monkeypatch.setattr("limits.aio.storage.memory.time", fake_time)
        monkeypatch.setattr("api.auth.throttle.time", fake_time)
        limiter = RateLimiter(MemoryStorage())

        async def hit() -> float | None:
            return await limiter.hit("login:ip:10.0.0.1", limit=15, window_s=60)

        accepted = []
        for _ in range(15):
            clock.now += 2.5  # 15 calls over the 37.5 s before the boundary
            accepted.append(await hit())
        assert accepted == [None] * 15
        clock.now = 1_000_058.0
        assert await hit() is not None  # the 16th
        clock.now = 1_000_061.0  # just past the minute: a fixed window would start afresh
        wait = await hit()
        assert wait is not None
        assert wait == pytest.approx(1_000_022.5 + 60 - 1_000_061.0, abs=0.01)
        clock.now = 1_000_082.6  # the first call has left the window: room for exactly one
        assert await hit() is None
        assert await hit() is not None
        await limiter.close()
