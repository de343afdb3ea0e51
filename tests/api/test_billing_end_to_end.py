"""End to end through the API: telemetry rollups -> close -> issue (new-invoice SMS) -> PDF ->
mobile money payment confirmed by a signed webhook (receipt SMS) -> invoice paid -> the
building's monthly report and the accounting export show it."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from datetime import date, timedelta

import pytest
from pydantic import SecretStr

from billing.payments.providers import sign
from core.config import SmsProviderName, SmsSettings
from core.config_billing import (
    BillingSettings,
    ChannelKind,
    PaymentChannel,
    PaymentsSettings,
    UtilityIdentity,
)
from tests.billing.arrange import P0, P1, World
from tests.jobs.workers import close_and_wait, issue_and_wait, quiet_worker_env, read_logs
from tests.twilio_fake import FakeTwilio

pytestmark = pytest.mark.services

SECRET = "momo-e2e-secret"
PHONE = "+237670000099"


@pytest.fixture
def fake_twilio():
    fake = FakeTwilio().start()
    yield fake
    fake.stop()


@pytest.fixture
def settings(settings, fake_twilio):
    return settings.model_copy(
        update={
            "payments": PaymentsSettings(mtn_momo_webhook_secret=SecretStr(SECRET)),
            "billing": BillingSettings(
                utilities={
                    "CM": UtilityIdentity(
                        name="WaterBill Cameroun",
                        channels=[
                            PaymentChannel(
                                kind=ChannelKind.MOBILE_MONEY,
                                operator="MTN MoMo",
                                detail="+237 650 00 00 00",
                            )
                        ],
                    )
                }
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


def sms_env(settings) -> dict[str, str]:
    """The test's SMS provider and utilities for the worker process, which sends the SMS."""
    sms = settings.sms
    return {
        "WATERBILL_SMS__PROVIDER": sms.provider.value,
        "WATERBILL_SMS__TWILIO_ACCOUNT_SID": sms.twilio_account_sid,
        "WATERBILL_SMS__TWILIO_AUTH_TOKEN": sms.twilio_auth_token.get_secret_value(),
        "WATERBILL_SMS__FROM_NUMBER": sms.from_number,
        "WATERBILL_SMS__TWILIO_BASE_URL": sms.twilio_base_url or "",
        "WATERBILL_BILLING": settings.billing.model_dump_json(),
    }


async def test_from_rollups_to_a_paid_invoice_in_the_report(
    admin_client, db, fake_twilio, tmp_path, settings, database_url, start_worker
):
    start_worker(quiet_worker_env(database_url) | sms_env(settings))
    world = World(db)
    dwelling = world.dwelling()
    world.customer(dwelling, language="fr", phone=PHONE)
    meter = world.meter(dwelling)
    # 15 l/h over October (Douala time): 744 h -> 11,160 litres.
    world.steady(
        meter, start=P0 - timedelta(hours=1), end=P1 + timedelta(hours=1), litres_per_hour=15
    )

    await close_and_wait(admin_client, period="2026-10")
    (issued,) = await issue_and_wait(
        admin_client, read_logs(tmp_path), period="2026-10", force=True
    )
    assert (issued["result"]["issued"], issued["result"]["sms_queued"]) == (1, 1)
    (invoice,) = (await admin_client.get("/invoices")).json()
    assert (invoice["status"], invoice["volume_l"]) == ("issued", 11_160)
    total = invoice["total_minor"]
    (announcement,) = [r.form["Body"] for r in fake_twilio.requests]
    assert announcement.startswith(f"WaterBill: votre facture {invoice['number']} de ")

    pdf = await admin_client.get(f"/invoices/{invoice['id']}/pdf")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    if shutil.which("pdftotext"):
        path = tmp_path / "invoice.pdf"
        path.write_bytes(pdf.content)
        text = subprocess.run(
            ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
        ).stdout
        assert invoice["number"] in text

    started = await admin_client.post(
        "/payments",
        json={"dwelling_id": dwelling, "method": "mtn_momo", "amount": str(total)},
    )
    reference = started.json()["reference"]
    body = json.dumps(
        {
            "financialTransactionId": "MTN-E2E-1",
            "externalId": reference,
            "amount": str(total),
            "currency": "XAF",
            "status": "SUCCESSFUL",
        }
    ).encode()
    webhook = await admin_client.post(
        "/payments/webhooks/mtn_momo", content=body, headers={"X-Signature": sign(SECRET, body)}
    )
    assert webhook.json()["applied"] is True

    paid = (await admin_client.get(f"/invoices/{invoice['id']}")).json()
    assert (paid["status"], paid["paid_minor"]) == ("paid", total)
    receipt = fake_twilio.requests[-1].form["Body"]
    assert receipt.startswith("WaterBill: paiement de ")
    assert receipt.endswith("Reste du: 0 FCFA.")

    report = await admin_client.get(
        f"/reports/buildings/{world.building_id}/monthly",
        params={"month": "2026-10-01", "format": "csv"},
    )
    (row,) = list(csv.DictReader(io.StringIO(report.text)))
    assert (row["volume_l"], row["billed_minor"], row["paid_minor"], row["unpaid_minor"]) == (
        "11160",
        str(total),
        str(total),
        "0",
    )
    next_day = (date.fromisoformat(invoice["issue_date"]) + timedelta(days=1)).isoformat()
    ledger = await admin_client.get(
        "/reports/accounting-export",
        # The invoice is dated by the UTC day of its issue, the payment by Douala's day (UTC+1):
        # from 23:00 UTC the payment falls on the next local day.
        params={"start": invoice["issue_date"], "end": next_day, "format": "csv"},
    )
    entries = sorted((r["entry"], r["amount"]) for r in csv.DictReader(io.StringIO(ledger.text)))
    assert entries == [("invoice", str(total)), ("payment", str(total))]
