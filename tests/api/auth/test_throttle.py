from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from core.config_auth import AuthSettings
from core.local_redis import REDIS_BIN, LocalRedis
from tests.api.auth.conftest import PASSWORD, RAISED, next_phone

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def local_redis():
    if not REDIS_BIN.exists():
        pytest.skip("redis-server is not installed")
    with LocalRedis() as server:
        yield server


@asynccontextmanager
async def app_client(settings, ip: str = "10.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
    from api.app import create_app

    app = create_app(settings)
    apps[id(settings)] = app
    transport = httpx.ASGITransport(app=app, client=(ip, 4000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as http,
    ):
        yield http


apps: dict[int, FastAPI] = {}


def limited(settings, **limits):
    # An hour's window: a run never straddles a window edge and sees its counts reset.
    window = {"throttle_window_s": 3600}
    auth = AuthSettings.model_validate({**RAISED, "code_cooldown_s": 0, **window, **limits})
    return settings.model_copy(update={"auth": auth})


def login_body(phone: str | None = None) -> dict[str, str]:
    return {"phone": phone or next_phone(), "password": PASSWORD}


class TestPerIp:
    @pytest.mark.parametrize(
        ("limit", "path", "body"),
        [
            ("throttle_login", "/auth/login", lambda: login_body()),
            ("throttle_activate", "/auth/activate", lambda: {"phone": next_phone(), "code": "1"}),
            ("throttle_resend", "/auth/resend-code", lambda: {"phone": next_phone()}),
            ("throttle_other", "/auth/refresh", lambda: {"refresh_token": "x"}),
            ("throttle_register", "/auth/register", lambda: {"phone": "bad"}),
        ],
    )
    async def test_the_call_past_the_limit_is_429_with_retry_after(
        self, settings, limit, path, body
    ):
        async with app_client(limited(settings, **{limit: 3})) as api:
            answers = [(await api.post(path, json=body())).status_code for _ in range(4)]
            assert 429 not in answers[:3]
            assert answers[3] == 429
            last = await api.post(path, json=body())
            assert 1 <= int(last.headers["Retry-After"]) <= 3600
            assert last.json()["error"] == "TooManyRequests"

    async def test_another_ip_has_its_own_budget(self, settings):
        tight = limited(settings, throttle_login=2)
        async with app_client(tight, "10.0.0.1") as first:
            for _ in range(3):
                await first.post("/auth/login", json=login_body())
            assert (await first.post("/auth/login", json=login_body())).status_code == 429
            # Same process, another client address.
            other = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=apps[id(tight)], client=("10.0.0.2", 1)),
                base_url="http://testserver",
            )
            async with other:
                assert (await other.post("/auth/login", json=login_body())).status_code == 401

    async def test_the_defaults_are_the_product_limits(self):
        auth = AuthSettings()
        limits = (auth.throttle_login, auth.throttle_register, auth.throttle_activate)
        assert limits == (15, 10, 20)
        assert (auth.throttle_resend, auth.throttle_other, auth.throttle_window_s) == (5, 30, 60)


class TestPerPhone:
    async def test_one_number_is_limited_across_ips(self, settings):
        tight = limited(settings, throttle_login=2)
        phone = next_phone()
        async with app_client(tight, "10.0.0.1"):
            app = apps[id(tight)]
            answers = []
            for n in range(3):
                transport = httpx.ASGITransport(app=app, client=(f"10.0.1.{n}", 1))
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                    answers.append(await http.post("/auth/login", json=login_body(phone)))
        assert [a.status_code for a in answers] == [401, 401, 429]


class TestRedisShared:
    async def test_two_processes_share_the_counts(self, settings, local_redis):
        shared = limited(settings, throttle_login=3, redis_url=local_redis.url)
        async with app_client(shared) as one, app_client(shared) as two:
            codes = []
            for api in (one, two, one, two):
                codes.append((await api.post("/auth/login", json=login_body())).status_code)
        assert codes == [401, 401, 401, 429]

    async def test_redis_down_is_a_503_not_an_open_door(self, settings):
        from core.local_services import free_port

        gone = limited(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
        async with app_client(gone) as api:
            answer = await api.post("/auth/login", json=login_body())
        assert answer.status_code == 503
        assert answer.json()["error"] == "Unavailable"
