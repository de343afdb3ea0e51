"""``waterbill payments poll`` and ``waterbill bill remind`` as the scheduler runs them: child
processes configured by the environment, against the local provider and Twilio fakes."""

import os
import subprocess
import sys
from datetime import date, timedelta

import pytest

from tests import clock
from tests.billing.ledger_world import arrange
from tests.payment_provider_fake import FakeProviders
from tests.twilio_fake import FakeTwilio

pytestmark = pytest.mark.services


def run(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env={**os.environ, "WATERBILL_DATABASE_URL": database_url, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def providers():
    fake = FakeProviders().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_twilio():
    fake = FakeTwilio().start()
    yield fake
    fake.stop()


def test_poll_settles_a_pending_mobile_money_payment(db, database_url, providers):
    ledger = arrange(db)
    invoice = ledger.invoice("A1", net=2_000)
    reference = "WBPCLI1"
    db.execute(
        "INSERT INTO payment (dwelling_id, method, status, amount_minor, currency, reference)"
        " VALUES (%s, 'mtn_momo', 'pending', 2000, 'XAF', %s)",
        [ledger.dwellings["A1"], reference],
    )
    providers.statuses[reference] = ("SUCCESSFUL", "MTN-CLI")
    providers.amounts[reference] = 2_000
    done = run(
        database_url,
        "payments",
        "poll",
        WATERBILL_PAYMENTS__MTN_MOMO_URL=providers.base_url + "/momo",
        WATERBILL_PAYMENTS__POLL_AFTER_S="0",
    )
    assert done.returncode == 0, done.stderr
    assert "polled 1: 1 succeeded, 0 failed, 0 still pending, 0 unreachable; 0 expired" in (
        done.stdout
    )
    assert ledger.invoice_row(invoice) == ("paid", 2_000)


def test_remind_proposes_penalties_and_sends_each_sms_once(db, database_url, fake_twilio):
    today = clock.today()
    ledger = arrange(db)
    ledger.invoice("A1", net=1_000, due_date=today + timedelta(days=20))
    late = ledger.invoice("A2", net=3_000, period="2026-09", due_date=date(2026, 10, 1))
    env = {
        "WATERBILL_SMS__PROVIDER": "twilio",
        "WATERBILL_SMS__TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "WATERBILL_SMS__TWILIO_AUTH_TOKEN": "token",
        "WATERBILL_SMS__FROM_NUMBER": "+15005550006",
        "WATERBILL_SMS__TWILIO_BASE_URL": fake_twilio.base_url,
    }
    first = run(database_url, "bill", "remind", "--today", today.isoformat(), **env)
    second = run(database_url, "bill", "remind", "--today", today.isoformat(), **env)
    assert first.returncode == 0, first.stderr
    assert "1 penalties proposed; SMS: 1 sent" in first.stdout
    assert "0 penalties proposed; SMS: 0 sent" in second.stdout
    assert [r.form["To"] for r in fake_twilio.requests] == [ledger.phones["A1"]]
    penalty = db.execute(
        "SELECT amount_minor, status::text FROM late_penalty WHERE invoice_id = %s", [late]
    ).fetchone()
    assert penalty == (400, "proposed")  # 10 % of 3,000 + 100
    assert ledger.invoice_row(late) == ("overdue", 0)
