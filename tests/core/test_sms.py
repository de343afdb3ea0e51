import re
from datetime import timedelta

import httpx
import psycopg
import pytest
from pydantic import SecretStr

from core.config import SmsProviderName, SmsSettings
from core.countries import Language
from core.notifications import service as notifications
from core.notifications.service import RetryPolicy
from core.sms import (
    TEMPLATES,
    MessageKind,
    SmsDeliveryFailed,
    TwilioSmsProvider,
    is_gsm7,
    render_message,
)
from tests import clock
from tests.twilio_fake import FakeTwilio

SID = "AC" + "0" * 32


@pytest.fixture
def fake_twilio():
    fake = FakeTwilio().start()
    yield fake
    fake.stop()


@pytest.fixture
def sms_settings(fake_twilio) -> SmsSettings:
    return SmsSettings(
        provider=SmsProviderName.TWILIO,
        twilio_account_sid=SID,
        twilio_auth_token=SecretStr("token-123"),
        from_number="+15005550006",
        twilio_base_url=fake_twilio.base_url,
    )


class TestTemplates:
    @pytest.mark.parametrize("kind", list(MessageKind))
    @pytest.mark.parametrize("language", list(Language))
    def test_every_kind_has_every_language_in_gsm7(self, kind, language):
        text = TEMPLATES[kind][language].format(code="123456", minutes=10)
        assert is_gsm7(text), text
        assert len(text) <= 160

    def test_messages_follow_the_language(self):
        assert render_message(MessageKind.ACTIVATION_CODE, Language.TPI, code="1", minutes=10) == (
            "Namba kod bilong WaterBill em 1. Em bai pinis long 10 minit."
        )


class TestTwilioProvider:
    def test_the_real_client_posts_the_message_to_twilio(self, sms_settings, fake_twilio):
        sid = TwilioSmsProvider(sms_settings).send("+237658552294", "Bonjour")
        (request,) = fake_twilio.requests
        assert request.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
        assert request.form == {"To": "+237658552294", "From": "+15005550006", "Body": "Bonjour"}
        assert (request.user, request.password) == (SID, "token-123")
        assert sid.startswith("SM")

    def test_a_refusal_is_a_503_kind_of_error(self, sms_settings, fake_twilio):
        fake_twilio.fail_with = 400
        with pytest.raises(SmsDeliveryFailed):
            TwilioSmsProvider(sms_settings).send("+237658552294", "x")


@pytest.mark.services
class TestSignUpThroughTwilio:
    @pytest.fixture
    async def api(self, settings, sms_settings):
        from api.app import create_app

        app = create_app(settings.model_copy(update={"sms": sms_settings}))
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
        ):
            yield http

    async def test_the_activation_code_goes_out_through_twilio(self, api, fake_twilio):
        answer = await api.post(
            "/auth/register",
            json={
                "phone": "+67571234567",
                "first_name": "Kila",
                "last_name": "Tau",
                "password": "long enough pass",
                "language": "tpi",
            },
        )
        assert answer.status_code == 202
        (request,) = fake_twilio.requests
        assert request.form["To"] == "+67571234567"
        code = re.search(r"\d{6}", request.form["Body"])
        assert code is not None
        assert request.form["Body"].startswith("Namba kod bilong WaterBill")
        activated = await api.post(
            "/auth/activate", json={"phone": "7123 4567", "code": code.group()}
        )
        assert activated.status_code == 200

    async def test_twilio_down_queues_the_code_for_a_retry(
        self, api, fake_twilio, db, database_url, sms_settings
    ):
        fake_twilio.fail_with = 500
        answer = await api.post(
            "/auth/register",
            json={
                "phone": "+67571234567",
                "first_name": "Kila",
                "last_name": "Tau",
                "password": "long enough pass",
            },
        )
        # The outbox keeps the code: the outage delays it, the next drain sends it once.
        assert answer.status_code == 202
        assert db.execute("SELECT is_active FROM app_user").fetchall() == [(False,)]
        row = db.execute("SELECT status::text, attempts FROM sms_outbox").fetchone()
        assert row == ("queued", 1)
        fake_twilio.fail_with = None
        later = clock.now() + timedelta(seconds=RetryPolicy().retry_s + 1)
        with psycopg.connect(database_url, autocommit=True) as conn:
            report = notifications.drain(
                conn,
                provider=TwilioSmsProvider(sms_settings),
                policy=RetryPolicy(),
                now=later,
            )
        assert report.sent == 1
        assert len(fake_twilio.requests) == 2
        assert re.search(r"WaterBill code is \d{6}", fake_twilio.requests[-1].form["Body"])
