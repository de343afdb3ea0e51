"""Holiday mode by SMS through Twilio's inbound webhook: signature, keywords, replies."""

from datetime import date, timedelta

import pytest
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from registry.absences.keywords import Away, Back, Unreadable, parse
from tests.clock import today_in

pytestmark = pytest.mark.services

TOKEN = "twilio-auth-token-for-tests"
URL = "http://testserver/sms/inbound"


@pytest.fixture
def settings(settings):
    sms = settings.sms.model_copy(update={"twilio_auth_token": SecretStr(TOKEN)})
    return settings.model_copy(update={"sms": sms})


async def _text(api, phone: str, body: str, *, token: str = TOKEN):
    form = {"From": phone, "To": "+67570000000", "Body": body, "MessageSid": "SM1"}
    signature = RequestValidator(token).compute_signature(URL, form)
    return await api.post("/sms/inbound", data=form, headers={"X-Twilio-Signature": signature})


def _absences(db, world):
    return db.execute(
        "SELECT from_date, to_date, source, cancelled_at IS NOT NULL FROM dwelling_absence"
        " WHERE dwelling_id = %s AND id <> %s ORDER BY id",
        [world.ids["own"]["dwelling_id"], world.ids["own"]["absence_id"]],
    ).fetchall()


class TestKeywords:
    def test_the_three_languages_and_both_date_styles_are_read(self):
        expected = Away(from_date=date(2026, 12, 20), to_date=date(2027, 1, 5))
        assert parse("AWAY 2026-12-20 2027-01-05") == expected
        assert parse("  absent 20/12/2026   05/01/2027 ") == expected
        assert parse("Holide 20-12-2026 5-1-2027") == expected
        assert parse("away 2027-01-05") == Away(from_date=None, to_date=date(2027, 1, 5))
        assert parse("kambek") == Back()

    def test_anything_else_is_unreadable(self):
        for body in ("", "hello", "AWAY", "AWAY 2026-02-30", "AWAY 1 2 3", "BACK now"):
            assert parse(body) == Unreadable(), body


class TestInboundSms:
    async def test_away_declares_an_absence_and_replies_in_the_customer_language(
        self, api, world, db
    ):
        db.execute(
            "UPDATE app_user SET language = 'fr' WHERE id = %s", [world.ids["own"]["user_id"]]
        )
        today = today_in("Africa/Douala")
        start, end = today + timedelta(days=3), today + timedelta(days=17)
        answer = await _text(
            api,
            world.accounts["customer"].phone,
            f"ABSENT {start:%d/%m/%Y} {end:%d/%m/%Y}",
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("application/xml")
        assert f"est vide du {start:%d/%m/%Y} au {end:%d/%m/%Y}" in answer.text
        assert _absences(db, world) == [(start, end, "sms", False)]

    async def test_back_cancels_what_is_not_over(self, api, world, db):
        phone = world.accounts["customer"].phone
        await _text(api, phone, f"AWAY {today_in('Africa/Douala') + timedelta(days=5)}")
        answer = await _text(api, phone, "BACK")
        assert "welcome home" in answer.text
        assert [row[3] for row in _absences(db, world)] == [True]

    async def test_a_broken_rule_is_explained(self, api, world, db):
        today = today_in("Africa/Douala")
        answer = await _text(
            api, world.accounts["customer"].phone, f"AWAY {today + timedelta(days=9)} {today}"
        )
        assert "return date is before the departure" in answer.text
        assert _absences(db, world) == []

    async def test_an_unreadable_text_gets_the_help(self, api, world):
        answer = await _text(api, world.accounts["customer"].phone, "where is my bill")
        assert "AWAY 2026-12-20 2027-01-05" in answer.text

    async def test_an_unknown_number_gets_no_reply(self, api):
        answer = await _text(api, "+67571234567", "AWAY 2030-01-01")
        assert answer.text.endswith("<Response></Response>")

    async def test_a_request_not_signed_by_our_account_is_refused(self, api, world):
        answer = await _text(api, world.accounts["customer"].phone, "BACK", token="not-ours")
        assert answer.status_code == 401
        assert answer.json()["error"] == "SmsSignatureInvalid"
