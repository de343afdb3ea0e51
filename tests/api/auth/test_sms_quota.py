"""Hole 5 of issue 14: a stranger cannot spend a number's SMS codes and lock its owner out."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from core.config import Settings
from tests.api.auth.conftest import PASSWORD, next_phone

pytestmark = pytest.mark.services

RESET = "/auth/password-reset/request"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    auth = settings.auth.model_copy(
        update={"code_daily_quota": 5, "code_number_daily_cap": 10, "code_requester_daily_cap": 50}
    )
    return settings.model_copy(update={"auth": auth})


@asynccontextmanager
async def client_at(app: FastAPI, ip: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(ip, 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def ask(app: FastAPI, ip: str, phone: str, times: int = 1) -> list[int]:
    async with client_at(app, ip) as http:
        return [(await http.post(RESET, json={"phone": phone})).status_code for _ in range(times)]


def sms_to(outbox, phone: str) -> int:
    return len([sms for sms in outbox.outbox if sms.to == phone])


class TestStrangerAndOwner:
    async def test_five_requests_by_a_stranger_leave_the_owner_a_code(
        self, app, make_account, outbox
    ):
        owner = await make_account("customer")
        assert await ask(app, "198.51.100.66", owner.phone, times=6) == [202] * 5 + [429]
        # The owner, from an address never seen before (they forgot their password):
        assert await ask(app, "203.0.113.10", owner.phone) == [202]
        assert sms_to(outbox, owner.phone) == 6

    async def test_the_stranger_is_told_to_wait_for_their_own_share_only(self, app, make_account):
        owner = await make_account("customer")
        await ask(app, "198.51.100.66", owner.phone, times=5)
        async with client_at(app, "198.51.100.66") as http:
            answer = await http.post(RESET, json={"phone": owner.phone})
        assert answer.status_code == 429
        assert "from here" in answer.json()["detail"]
        assert 86_000 <= int(answer.headers["Retry-After"]) <= 86_400


class TestNumberCap:
    async def test_strangers_together_stop_at_the_cap(self, app, make_account, outbox):
        owner = await make_account("customer")
        assert await ask(app, "198.51.100.1", owner.phone, times=5) == [202] * 5
        assert await ask(app, "198.51.100.2", owner.phone, times=5) == [202] * 5
        assert await ask(app, "198.51.100.3", owner.phone) == [429]
        assert sms_to(outbox, owner.phone) == 10

    async def test_an_address_the_owner_signed_in_from_is_not_bound_by_it(
        self, app, make_account, outbox
    ):
        owner = await make_account("customer")  # signs in from the test client's 127.0.0.1
        for n in (1, 2):
            await ask(app, f"198.51.100.{n}", owner.phone, times=5)
        assert await ask(app, "127.0.0.1", owner.phone) == [202]
        assert sms_to(outbox, owner.phone) == 11

    async def test_a_sign_in_starts_the_count_afresh(self, app, api, make_account):
        owner = await make_account("customer")
        for n in (1, 2):
            await ask(app, f"198.51.100.{n}", owner.phone, times=5)
        assert await ask(app, "203.0.113.10", owner.phone) == [429]
        signed_in = await api.post("/auth/login", json={"phone": owner.phone, "password": PASSWORD})
        assert signed_in.status_code == 200
        assert await ask(app, "203.0.113.10", owner.phone) == [202]


class TestRequesterBudget:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        auth = settings.auth.model_copy(update={"code_requester_daily_cap": 3})
        return settings.model_copy(update={"auth": auth})

    async def test_one_address_cannot_pump_codes_to_many_numbers(self, app):
        answers = [(await ask(app, "198.51.100.9", next_phone()))[0] for _ in range(4)]
        assert answers == [202, 202, 202, 429]
        # Another address is not affected.
        assert await ask(app, "198.51.100.10", next_phone()) == [202]
