"""Hole 11 of issue 14: common passwords are refused; SMS codes and phones stay out of the logs."""

import logging

import pytest

from core.config import Settings
from core.sms import ConsoleSmsProvider
from tests.api.auth.conftest import PASSWORD, last_code, next_phone

pytestmark = pytest.mark.services


def sign_up(phone: str, password: str, first_name: str = "Amina") -> dict[str, str]:
    return {"phone": phone, "first_name": first_name, "last_name": "Njoya", "password": password}


def refusal(answer, field: str = "password") -> str:
    assert answer.status_code == 422, answer.text
    [error] = answer.json()["detail"]
    assert error["loc"] == ["body", field]
    assert error["input"] is None  # the password is not echoed back
    return str(error["msg"])


class TestSignUp:
    @pytest.mark.parametrize("password", ["12345678", "password", "iloveyou1", "motdepasse"])
    async def test_a_common_password_is_a_clear_422(self, api, password):
        answer = await api.post("/auth/register", json=sign_up(next_phone(), password))
        assert "this password is too easy to guess" in refusal(answer)

    async def test_the_reason_names_the_weakness(self, api):
        answer = await api.post("/auth/register", json=sign_up(next_phone(), "12345678"))
        assert "common password" in refusal(answer)

    async def test_the_persons_own_name_and_number_count_as_known_words(self, api):
        phone = next_phone()
        named = await api.post("/auth/register", json=sign_up(phone, "kumultok2024", "Kumultok"))
        assert "too easy to guess" in refusal(named)
        digits = await api.post("/auth/register", json=sign_up(phone, phone.lstrip("+") + "!"))
        assert "too easy to guess" in refusal(digits)

    async def test_no_account_is_made_for_a_refused_password(self, api, db):
        phone = next_phone()
        await api.post("/auth/register", json=sign_up(phone, "password"))
        assert (
            db.execute("SELECT count(*) FROM app_user WHERE phone = %s", [phone]).fetchone()[0] == 0
        )

    async def test_a_passphrase_is_welcome(self, api):
        answer = await api.post("/auth/register", json=sign_up(next_phone(), PASSWORD))
        assert answer.status_code == 202


class TestOtherWaysToSetAPassword:
    async def test_a_password_reset_refuses_a_common_one(self, api, make_account, outbox):
        account = await make_account("customer")
        await api.post("/auth/password-reset/request", json={"phone": account.phone})
        body = {"phone": account.phone, "code": last_code(outbox, account.phone)}
        weak = await api.post(
            "/auth/password-reset/confirm", json={**body, "new_password": "password1"}
        )
        assert "too easy to guess" in refusal(weak, "new_password")
        # The code was not spent on the refusal.
        strong = await api.post(
            "/auth/password-reset/confirm", json={**body, "new_password": "a new pass phrase"}
        )
        assert strong.status_code == 204

    async def test_an_admin_cannot_give_an_account_a_common_password(self, api, make_account):
        admin = await make_account("admin")
        answer = await api.post(
            "/users",
            json={**sign_up(next_phone(), "qwertyuiop"), "role": "customer"},
            headers=admin.headers,
        )
        assert "too easy to guess" in refusal(answer)


class TestTheThresholdIsASetting:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        auth = settings.auth.model_copy(update={"password_min_score": 0})
        return settings.model_copy(update={"auth": auth})

    async def test_score_zero_accepts_anything_long_enough(self, api):
        answer = await api.post("/auth/register", json=sign_up(next_phone(), "12345678"))
        assert answer.status_code == 202


class TestLogs:
    async def test_codes_and_numbers_stay_out_of_the_log_outside_development(
        self, api, outbox, caplog
    ):
        phone = next_phone()
        with caplog.at_level(logging.DEBUG):
            await api.post("/auth/register", json=sign_up(phone, PASSWORD))
        code = last_code(outbox, phone)
        assert code not in caplog.text
        assert phone not in caplog.text
        assert f"SMS to {phone[:4]}****{phone[-4:]}" in caplog.text

    def test_development_logs_the_text_for_the_demo(self, caplog):
        provider = ConsoleSmsProvider(log_text=True)
        with caplog.at_level(logging.INFO):
            provider.send("+67571234567", "Your code: 123456")
        assert "Your code: 123456" in caplog.text
