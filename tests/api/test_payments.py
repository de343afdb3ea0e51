"""Payments over HTTP: recording, signed provider webhooks (replays, concurrency), the billing
SMS (through the real twilio client and a local fake Twilio), and late penalties."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import httpx
import psycopg
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from billing.payments.notices import queue_due_notices
from billing.payments.penalties import propose_penalties
from billing.payments.providers import sign
from billing.tariffs.models import TariffVersion
from billing.tariffs.pricing import late_penalty
from billing.tariffs.service import as_tariff
from core.config import SmsProviderName, SmsSettings
from core.config_billing import PaymentsSettings
from core.db import make_async_engine
from core.money import Money, get_currency
from core.notifications import service as notifications
from core.notifications.service import RetryPolicy
from core.sms import make_sms_provider
from tests import clock
from tests.billing.ledger_world import Ledger, arrange, settle
from tests.twilio_fake import FakeTwilio

pytestmark = pytest.mark.services

SECRETS = {"card": "card-secret", "orange_money": "om-secret", "mtn_momo": "momo-secret"}


@pytest.fixture
def fake_twilio():
    fake = FakeTwilio().start()
    yield fake
    fake.stop()


@pytest.fixture
def settings(settings, fake_twilio):
    return settings.model_copy(
        update={
            "payments": PaymentsSettings(
                card_webhook_secret=SecretStr(SECRETS["card"]),
                orange_money_webhook_secret=SecretStr(SECRETS["orange_money"]),
                mtn_momo_webhook_secret=SecretStr(SECRETS["mtn_momo"]),
            ),
            "sms": SmsSettings(
                provider=SmsProviderName.TWILIO,
                twilio_account_sid="AC" + "0" * 32,
                twilio_auth_token=SecretStr("token"),
                from_number="+15005550006",
                twilio_base_url=fake_twilio.base_url,
            ),
        }
    )


@pytest.fixture
def ledger(db) -> Ledger:
    return arrange(db)


def sms_to(fake: FakeTwilio, phone: str) -> list[str]:
    return [r.form["Body"] for r in fake.requests if r.form.get("To") == phone]


async def pending(admin_client, ledger, dwelling="A1", amount="2500", method="mtn_momo"):
    answer = await admin_client.post(
        "/payments",
        json={"dwelling_id": ledger.dwellings[dwelling], "method": method, "amount": amount},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def momo_body(reference: str, amount: int = 2500, status: str = "SUCCESSFUL") -> bytes:
    return json.dumps(
        {
            "financialTransactionId": "MTN-123",
            "externalId": reference,
            "amount": str(amount),
            "currency": "XAF",
            "status": status,
        }
    ).encode()


def momo_headers(body: bytes, secret: str = SECRETS["mtn_momo"]) -> dict[str, str]:
    return {"X-Signature": sign(secret, body), "Content-Type": "application/json"}


class TestRecordPayment:
    async def test_cash_is_counted_allocated_and_receipted(self, admin_client, ledger, fake_twilio):
        invoice = ledger.invoice("A1", net=10_000)
        answer = await admin_client.post(
            "/payments",
            json={
                "dwelling_id": ledger.dwellings["A1"],
                "method": "cash",
                "amount": "4000",
                "currency": "XAF",
                "provider_ref": "AGENT-17",
            },
        )
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert (body["status"], body["amount"], body["amount_minor"]) == ("succeeded", "4000", 4000)
        assert ledger.invoice_row(invoice) == ("partially_paid", 4_000)
        # French for the French-speaking tenant, amounts as French writes them (GSM-7 spaces).
        assert sms_to(fake_twilio, ledger.phones["A1"]) == [
            f"WaterBill: paiement de 4 000 FCFA recu, ref {body['reference']}. Merci."
            " Reste du: 6 000 FCFA."
        ]

    async def test_a_payment_in_another_currency_is_a_422(self, admin_client, ledger):
        answer = await admin_client.post(
            "/payments",
            json={
                "dwelling_id": ledger.dwellings["A1"],
                "method": "cash",
                "amount": "10",
                "currency": "EUR",
            },
        )
        assert answer.status_code == 422
        assert answer.json() == {
            "error": "InvalidPayment",
            "detail": f"dwelling {ledger.dwellings['A1']} is billed in XAF, not EUR",
        }

    @pytest.mark.parametrize("amount", ["1e40", "-5", "NaN", "0"])
    async def test_impossible_amounts_are_a_422(self, admin_client, ledger, amount):
        answer = await admin_client.post(
            "/payments",
            json={"dwelling_id": ledger.dwellings["A1"], "method": "cash", "amount": amount},
        )
        assert answer.status_code == 422, answer.text

    async def test_payments_are_listed_newest_first(self, admin_client, ledger):
        first = await pending(admin_client, ledger, amount="100", method="cash")
        second = await pending(admin_client, ledger, amount="200", method="cash")
        answer = await admin_client.get("/payments", params={"dwelling_id": ledger.dwellings["A1"]})
        assert [p["id"] for p in answer.json()] == [second["id"], first["id"]]


class TestWebhookSignature:
    async def test_a_signed_callback_settles_the_payment(self, admin_client, ledger, fake_twilio):
        invoice = ledger.invoice("A2", net=2_500)
        payment = await pending(admin_client, ledger, dwelling="A2")
        body = momo_body(payment["reference"])
        answer = await admin_client.post(
            "/payments/webhooks/mtn_momo", content=body, headers=momo_headers(body)
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "payment_id": payment["id"],
            "reference": payment["reference"],
            "status": "succeeded",
            "applied": True,
        }
        assert ledger.invoice_row(invoice) == ("paid", 2_500)
        assert sms_to(fake_twilio, ledger.phones["A2"]) == [
            f"WaterBill: payment of FCFA 2,500 received, ref {payment['reference']}."
            " Thank you. Still due: FCFA 0."
        ]

    @pytest.mark.parametrize(
        ("headers", "detail"),
        [
            ({}, "missing X-Signature header"),
            ({"X-Signature": "00" * 32}, "mtn_momo webhook signature does not match the body"),
            (
                {"X-Signature": sign("wrong-secret", b"x")},
                "mtn_momo webhook signature does not match the body",
            ),
        ],
    )
    async def test_a_bad_signature_is_a_401(self, admin_client, ledger, headers, detail):
        payment = await pending(admin_client, ledger)
        body = momo_body(payment["reference"])
        answer = await admin_client.post(
            "/payments/webhooks/mtn_momo", content=body, headers=headers
        )
        assert answer.status_code == 401
        assert answer.json() == {"error": "WebhookSignatureInvalid", "detail": detail}
        assert ledger.db.execute("SELECT count(*) FROM payment_event").fetchone() == (0,)

    async def test_a_body_changed_after_signing_is_refused(self, admin_client, ledger):
        payment = await pending(admin_client, ledger)
        signed = momo_body(payment["reference"], amount=100)
        tampered = momo_body(payment["reference"], amount=2500)
        answer = await admin_client.post(
            "/payments/webhooks/mtn_momo", content=tampered, headers=momo_headers(signed)
        )
        assert answer.status_code == 401

    async def test_card_webhooks_carry_a_fresh_timestamp(self, admin_client, ledger):
        payment = await pending(admin_client, ledger, method="card")
        body = json.dumps(
            {
                "id": "evt_1",
                "type": "payment.succeeded",
                "data": {"reference": payment["reference"], "amount": 2500, "currency": "XAF"},
            }
        ).encode()

        def headers(stamp: int) -> dict[str, str]:
            mac = sign(SECRETS["card"], f"{stamp}.".encode() + body)
            return {"Webhook-Signature": f"t={stamp},v1={mac}"}

        stale = await admin_client.post(
            "/payments/webhooks/card", content=body, headers=headers(int(clock.epoch()) - 3600)
        )
        assert stale.status_code == 401
        assert "more than 300 s away" in stale.json()["detail"]
        fresh = await admin_client.post(
            "/payments/webhooks/card", content=body, headers=headers(int(clock.epoch()))
        )
        assert fresh.status_code == 200, fresh.text
        assert fresh.json()["status"] == "succeeded"

    async def test_orange_money_callbacks_are_read(self, admin_client, ledger):
        payment = await pending(admin_client, ledger, method="orange_money", amount="700")
        body = json.dumps(
            {
                "status": "FAILED",
                "order_id": payment["reference"],
                "txnid": "MP2611",
                "amount": 700,
                "currency": "XAF",
            }
        ).encode()
        answer = await admin_client.post(
            "/payments/webhooks/orange_money",
            content=body,
            headers={"X-Signature": sign(SECRETS["orange_money"], body)},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "failed"

    async def test_a_provider_without_a_secret_is_refused(self, settings):
        from api.app import create_app

        app = create_app(settings.model_copy(update={"payments": PaymentsSettings()}))
        body = momo_body("WBP1")
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver"
            ) as http,
        ):
            answer = await http.post(
                "/payments/webhooks/mtn_momo", content=body, headers=momo_headers(body)
            )
        assert answer.status_code == 401
        assert answer.json()["detail"] == "mtn_momo webhooks are not configured (no secret)"

    @pytest.mark.parametrize(
        ("body", "detail"),
        [
            (b"not json", "body is not JSON"),
            (b"[]", "body must be a JSON object"),
            (b'{"externalId": "X", "status": "WEIRD"}', "status 'WEIRD' is not one of"),
            (
                b'{"externalId": "X", "status": "SUCCESSFUL", "amount": "12.5"}',
                "amount '12.5' is not a positive whole amount",
            ),
            (
                b'{"externalId": "X", "status": "SUCCESSFUL", "amount": "NaN"}',
                "amount 'NaN' is not a positive whole amount",
            ),
            (
                b'{"externalId": "X", "status": "SUCCESSFUL", "amount": "1e30"}',
                "amount '1e30' is beyond any payment",
            ),
            (
                b'{"externalId": "X", "status": "SUCCESSFUL", "amount": 5, "currency": "XAF",'
                b' "financialTransactionId": "' + b"9" * 200 + b'"}',
                "field 'financialTransactionId' is longer than 128 characters",
            ),
        ],
    )
    async def test_an_unreadable_body_is_a_422(self, client, body, detail):
        answer = await client.post(
            "/payments/webhooks/mtn_momo", content=body, headers=momo_headers(body)
        )
        assert answer.status_code == 422
        assert detail in answer.json()["detail"]

    async def test_cash_has_no_webhook(self, client):
        answer = await client.post("/payments/webhooks/cash", content=b"{}")
        assert answer.status_code == 422
        assert answer.json()["detail"] == "cash payments have no webhooks"

    async def test_an_unknown_reference_is_a_404(self, client):
        body = momo_body("WBPUNKNOWN")
        answer = await client.post(
            "/payments/webhooks/mtn_momo", content=body, headers=momo_headers(body)
        )
        assert answer.status_code == 404
        assert answer.json()["detail"] == "no mtn_momo payment has reference 'WBPUNKNOWN'"


class TestWebhookIdempotence:
    async def test_a_replayed_callback_changes_nothing(self, admin_client, ledger, fake_twilio):
        ledger.invoice("A1", net=2_500)
        payment = await pending(admin_client, ledger)
        body = momo_body(payment["reference"])
        answers = [
            await admin_client.post(
                "/payments/webhooks/mtn_momo", content=body, headers=momo_headers(body)
            )
            for _ in range(3)
        ]
        assert [a.json()["applied"] for a in answers] == [True, False, False]
        assert ledger.db.execute("SELECT count(*) FROM payment_event").fetchone() == (1,)
        assert ledger.allocations() == [(payment["id"], ledger.allocations()[0][1], 2_500)]
        assert len(sms_to(fake_twilio, ledger.phones["A1"])) == 1

    async def test_the_same_callback_delivered_concurrently_is_applied_once(
        self, admin_client, ledger
    ):
        invoice = ledger.invoice("A1", net=2_500)
        payment = await pending(admin_client, ledger)
        body = momo_body(payment["reference"])
        answers = await asyncio.gather(
            *(
                admin_client.post(
                    "/payments/webhooks/mtn_momo", content=body, headers=momo_headers(body)
                )
                for _ in range(6)
            )
        )
        assert [a.status_code for a in answers] == [200] * 6
        assert sum(a.json()["applied"] for a in answers) == 1
        assert ledger.invoice_row(invoice) == ("paid", 2_500)
        assert ledger.db.execute("SELECT count(*) FROM payment_allocation").fetchone() == (1,)


@pytest.fixture
async def engine(settings):
    engine = make_async_engine(settings)
    yield engine
    await engine.dispose()


@dataclass
class NoticeRun:
    sent: int
    retrying: int
    no_recipient: int


def _drain(settings, now: datetime) -> notifications.DrainReport:
    with psycopg.connect(settings.dsn, autocommit=True) as conn:
        return notifications.drain(
            conn, provider=make_sms_provider(settings), policy=RetryPolicy(), now=now
        )


async def notices(engine, settings, today: date, *, now: datetime | None = None) -> NoticeRun:
    """What the daily job does: queue the due notices, then drain the SMS outbox."""
    now = now or clock.now()
    async with AsyncSession(engine) as session, session.begin():
        queued = await queue_due_notices(
            session, today=today, reminder_days=7, now=now, billing=settings.billing
        )
    sms = await asyncio.to_thread(_drain, settings, now)
    return NoticeRun(sent=sms.sent, retrying=sms.retrying, no_recipient=queued.no_recipient)


class TestNotices:
    async def test_a_new_invoice_is_announced_once_in_the_tenants_language(
        self, engine, settings, ledger, fake_twilio
    ):
        today = clock.today()
        due = today + timedelta(days=20)
        ledger.invoice("A1", net=10_000, vat=1_925, due_date=due)
        ledger.invoice("B1", net=1_500, due_date=due)
        first = await notices(engine, settings, today)
        second = await notices(engine, settings, today)
        assert (first.sent, second.sent) == (2, 0)
        day = due.strftime("%d/%m/%Y")
        assert sms_to(fake_twilio, ledger.phones["A1"]) == [
            f"WaterBill: votre facture CM-2026-{_number(ledger, 'A1')} de 11 925 FCFA est"
            f" disponible, a payer avant le {day}. Orange Money, MTN MoMo, virement, especes"
            " chez un agent."
        ]
        (tok_pisin,) = sms_to(fake_twilio, ledger.phones["B1"])
        assert tok_pisin.startswith("WaterBill: bil CM-2026-")
        assert f"bilong FCFA 1,500 i redi, pe pastaim long {day}." in tok_pisin
        assert tok_pisin.endswith("Pe long Orange Money, MTN MoMo, beng, kes long ejen.")

    async def test_the_reminder_goes_seven_days_before_the_due_date_once(
        self, engine, settings, ledger, fake_twilio
    ):
        today = clock.today()
        due = today + timedelta(days=10)
        ledger.invoice("A2", net=3_000, due_date=due)
        await notices(engine, settings, today)  # the new-invoice SMS
        assert (await notices(engine, settings, due - timedelta(days=8))).sent == 0
        assert (await notices(engine, settings, due - timedelta(days=7))).sent == 1
        assert (await notices(engine, settings, due - timedelta(days=6))).sent == 0
        texts = sms_to(fake_twilio, ledger.phones["A2"])
        assert texts[1] == (
            f"WaterBill reminder: FCFA 3,000 is still due on invoice"
            f" CM-2026-{_number(ledger, 'A2')} by {due:%d/%m/%Y}."
            " Pay by Orange Money, MTN MoMo, bank transfer, cash at an agent."
        )

    async def test_a_paid_invoice_gets_no_reminder(self, engine, settings, ledger, fake_twilio):
        today = clock.today()
        due = today + timedelta(days=3)
        invoice = ledger.invoice("A2", net=3_000, due_date=due)
        settle(ledger.db, invoice)
        await notices(engine, settings, today)
        announcement, receipt = sms_to(fake_twilio, ledger.phones["A2"])
        assert " is ready, due " in announcement
        assert receipt.startswith("WaterBill: payment of FCFA 3,000 received")

    async def test_a_failed_send_is_retried_by_a_later_run(
        self, engine, settings, ledger, fake_twilio
    ):
        today = clock.today()
        ledger.invoice("A1", net=1_000, due_date=today + timedelta(days=20))
        fake_twilio.fail_with = 400
        now = clock.now()
        failed = await notices(engine, settings, today, now=now)
        fake_twilio.fail_with = None
        too_soon = await notices(engine, settings, today, now=now)
        later = now + timedelta(seconds=RetryPolicy().retry_s)
        retried = await notices(engine, settings, today, now=later)
        again = await notices(engine, settings, today, now=later)
        assert (failed.retrying, too_soon.sent, retried.sent, again.sent) == (1, 0, 1, 0)
        row = ledger.db.execute(
            "SELECT n.status::text, o.status::text, o.attempts"
            " FROM billing_notice n JOIN sms_outbox o ON o.id = n.outbox_id"
        ).fetchone()
        assert row == ("claimed", "sent", 2)
        assert len(fake_twilio.requests) == 2

    async def test_concurrent_runs_send_each_notice_once(
        self, engine, settings, ledger, fake_twilio
    ):
        today = clock.today()
        for dwelling in ("A1", "A2", "B1"):
            ledger.invoice(dwelling, net=1_000, due_date=today + timedelta(days=20))
        results = await asyncio.gather(*(notices(engine, settings, today) for _ in range(3)))
        assert sum(r.sent for r in results) == 3
        assert len(fake_twilio.requests) == 3

    async def test_no_phone_is_recorded_not_sent(self, engine, settings, ledger, fake_twilio):
        today = clock.today()
        ledger.invoice("A1", net=1_000, due_date=today + timedelta(days=20))
        ledger.db.execute("UPDATE app_user SET phone = NULL WHERE id = %s", [ledger.users["A1"]])
        result = await notices(engine, settings, today)
        assert (result.no_recipient, result.sent) == (1, 0)
        assert fake_twilio.requests == []


def _number(ledger: Ledger, dwelling: str) -> str:
    row = ledger.db.execute(
        "SELECT number FROM invoice WHERE dwelling_id = %s", [ledger.dwellings[dwelling]]
    ).fetchone()
    return str(row[0]).removeprefix("CM-2026-")


class TestPenalties:
    async def test_a_penalty_is_proposed_by_rule_and_applied_on_approval(
        self, admin_client, engine, ledger
    ):
        today = clock.today()
        overdue = ledger.invoice("A1", net=10_000, vat=1_925, due_date=today - timedelta(days=3))
        ledger.invoice("A2", net=5_000, due_date=today + timedelta(days=3))  # not due yet
        await pending(admin_client, ledger, amount="1925", method="cash")
        async with AsyncSession(engine) as session, session.begin():
            proposals = await propose_penalties(session, today=today)
        # 10 % of the 10,000 still owed, plus 100 fixed (the world's tariff).
        xaf = get_currency("XAF")
        async with AsyncSession(engine) as session:
            version = await session.get(TariffVersion, ledger.tariff)
            assert version is not None
            tariff = as_tariff(version)
        expected = late_penalty(tariff, overdue=Money.from_minor(10_000, xaf)).to_minor()
        assert expected == 1_100
        assert [(p.invoice_id, p.overdue_minor, p.amount_minor) for p in proposals] == [
            (overdue, 10_000, 1_100)
        ]
        assert ledger.invoice_row(overdue) == ("overdue", 1_925)
        listed = (await admin_client.get("/penalties", params={"status": "proposed"})).json()
        assert [(p["invoice_id"], p["amount"]) for p in listed] == [(overdue, "1100")]
        approved = await admin_client.post(f"/penalties/{listed[0]['id']}/approve")
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "approved"
        # The invoice now owes 11,925 + 1,100; paying it all marks it paid.
        await pending(admin_client, ledger, amount="11100", method="bank_transfer")
        assert ledger.invoice_row(overdue) == ("paid", 13_025)
        again = await admin_client.post(f"/penalties/{listed[0]['id']}/reject")
        assert again.status_code == 409
        assert again.json()["detail"] == f"penalty {listed[0]['id']} is approved already"

    async def test_proposing_twice_proposes_once_and_rejection_sticks(self, admin_client, ledger):
        today = clock.today()
        ledger.invoice("A1", net=1_000, due_date=today - timedelta(days=1))
        first = await admin_client.post("/penalties/propose")
        second = await admin_client.post("/penalties/propose")
        assert (first.json(), second.json()) == ({"proposed": 1}, {"proposed": 0})
        (penalty,) = (await admin_client.get("/penalties")).json()
        # 10 % of 1,000 plus 100.
        assert penalty["amount_minor"] == 200
        rejected = await admin_client.post(f"/penalties/{penalty['id']}/reject")
        assert rejected.json()["status"] == "rejected"
        assert (await admin_client.post("/penalties/propose")).json() == {"proposed": 0}

    async def test_an_unknown_penalty_is_a_404(self, admin_client):
        answer = await admin_client.post("/penalties/999/approve")
        assert answer.status_code == 404

    async def test_a_penalty_on_an_invoice_voided_since_is_a_409_and_can_be_rejected(
        self, admin_client, ledger
    ):
        # Found by the whole-API fuzz: the approval updated the void invoice, and the
        # database's guard refused it with a 500.
        today = clock.today()
        invoice = ledger.invoice("A1", net=1_000, due_date=today - timedelta(days=1))
        await admin_client.post("/penalties/propose")
        (penalty,) = (await admin_client.get("/penalties")).json()
        voided = await admin_client.post(f"/invoices/{invoice}/void", json={"reason": "wrong"})
        assert voided.status_code == 200, voided.text
        approved = await admin_client.post(f"/penalties/{penalty['id']}/approve")
        assert approved.status_code == 409, approved.text
        assert approved.json()["error"] == "PenaltyOnVoidInvoice"
        rejected = await admin_client.post(f"/penalties/{penalty['id']}/reject")
        assert rejected.json()["status"] == "rejected"
        assert ledger.invoice_row(invoice)[0] == "void"


async def test_webhook_route_is_public(client: httpx.AsyncClient):
    answer = await client.post("/payments/webhooks/mtn_momo", content=b"{}")
    assert answer.status_code == 401
    assert "WWW-Authenticate" not in answer.headers


class TestPaymentScope:
    async def test_managers_see_their_buildings_and_customers_their_dwellings(
        self, admin_client, ledger, settings, session
    ):
        from accounts.models import User
        from accounts.tokens import TokenType, encode_token

        for dwelling in ("A1", "A2", "B1"):
            await pending(admin_client, ledger, dwelling=dwelling, amount="100", method="cash")
        manager_id = ledger.db.execute(
            "INSERT INTO app_user (phone, first_name, last_name, language, role, is_active,"
            " password_hash) VALUES ('+237670000077', 'M', 'Gr', 'fr', 'manager', true, 'x')"
            " RETURNING id"
        ).fetchone()[0]
        ledger.db.execute(
            "INSERT INTO building_manager (user_id, building_id) VALUES (%s, %s)",
            [manager_id, ledger.buildings["A"]],
        )

        async def seen(user_id: int) -> set[int]:
            user = await session.get(User, user_id)
            assert user is not None
            token = encode_token(user, settings=settings, token_type=TokenType.ACCESS).token
            answer = await admin_client.get(
                "/payments", headers={"Authorization": f"Bearer {token}"}
            )
            assert answer.status_code == 200, answer.text
            return {p["dwelling_id"] for p in answer.json()}

        d = ledger.dwellings
        assert await seen(manager_id) == {d["A1"], d["A2"]}
        assert await seen(ledger.users["A2"]) == {d["A2"]}
