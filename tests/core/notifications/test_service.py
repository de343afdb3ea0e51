"""The SMS outbox's one retry policy, through the real Twilio client and the local fake."""

import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from pydantic import SecretStr

from core.config import SmsProviderName, SmsSettings
from core.notifications import service as notifications
from core.notifications.repository import NewSms
from core.notifications.service import RetryPolicy
from core.sms import TwilioSmsProvider
from tests.twilio_fake import FakeTwilio

pytestmark = pytest.mark.services

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=3, retry_s=60, retry_cap_s=90)


@pytest.fixture
def fake_twilio():
    fake = FakeTwilio().start()
    yield fake
    fake.stop()


@pytest.fixture
def provider(fake_twilio) -> TwilioSmsProvider:
    return TwilioSmsProvider(
        SmsSettings(
            provider=SmsProviderName.TWILIO,
            twilio_account_sid="AC" + "0" * 32,
            twilio_auth_token=SecretStr("token"),
            from_number="+15005550006",
            twilio_base_url=fake_twilio.base_url,
        )
    )


@pytest.fixture
def conn(database_url):
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


def enqueue(conn, key: str, phone: str = "+237658552294") -> int | None:
    sms = NewSms(phone=phone, language="en", kind="test", text=f"hello {key}", dedup_key=key)
    return notifications.enqueue(conn, sms, now=NOW)


def rows(conn):
    return conn.execute(
        "SELECT status::text, attempts, next_attempt_at, provider_id FROM sms_outbox ORDER BY id"
    ).fetchall()


def drain(conn, provider, now=NOW, **kwargs):
    return notifications.drain(conn, provider=provider, policy=POLICY, now=now, **kwargs)


class TestRetryPolicy:
    def test_the_wait_doubles_up_to_its_cap(self):
        waits = [POLICY.retry_at(attempts=n, now=NOW) for n in (1, 2)]
        assert waits == [NOW + timedelta(seconds=60), NOW + timedelta(seconds=90)]

    def test_no_retry_once_the_attempts_are_used(self):
        assert POLICY.retry_at(attempts=3, now=NOW) is None


class TestEnqueue:
    def test_the_same_key_is_queued_once(self, conn):
        assert enqueue(conn, "code:1") is not None
        assert enqueue(conn, "code:1") is None
        assert len(rows(conn)) == 1


class TestDrain:
    def test_sends_once_and_records_the_provider_id(self, conn, provider, fake_twilio):
        enqueue(conn, "a")
        assert drain(conn, provider).sent == 1
        assert drain(conn, provider).sent == 0
        ((status, attempts, next_at, provider_id),) = rows(conn)
        assert (status, attempts, next_at) == ("sent", 1, None)
        assert provider_id.startswith("SM")
        assert [r.form["Body"] for r in fake_twilio.requests] == ["hello a"]

    def test_only_the_given_ids(self, conn, provider, fake_twilio):
        first, _ = enqueue(conn, "a"), enqueue(conn, "b")
        assert drain(conn, provider, ids=[first]).sent == 1
        assert [r.form["Body"] for r in fake_twilio.requests] == ["hello a"]

    def test_an_outage_delays_and_neither_loses_nor_duplicates(
        self, conn, database_url, provider, fake_twilio
    ):
        for n in range(6):
            enqueue(conn, f"m{n}", phone=f"+2376585522{n:02d}")
        fake_twilio.fail_with = 503
        assert drain(conn, provider).retrying == 6
        assert {r[:3] for r in rows(conn)} == {("queued", 1, NOW + timedelta(seconds=60))}
        fake_twilio.requests.clear()
        fake_twilio.fail_with = None
        assert drain(conn, provider, now=NOW + timedelta(seconds=30)).sent == 0
        # Back up: three senders at once deliver each message exactly once.
        barrier = threading.Barrier(3)

        def sender() -> None:
            with psycopg.connect(database_url, autocommit=True) as connection:
                barrier.wait()
                drain(connection, provider, now=NOW + timedelta(seconds=60))

        threads = [threading.Thread(target=sender) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(r.form["To"] for r in fake_twilio.requests) == [
            f"+2376585522{n:02d}" for n in range(6)
        ]
        assert {r[:2] for r in rows(conn)} == {("sent", 2)}

    def test_a_permanent_failure_is_failed_after_the_last_attempt(
        self, conn, provider, fake_twilio
    ):
        enqueue(conn, "a")
        fake_twilio.fail_with = 400
        at = NOW
        reports = []
        for _ in range(POLICY.max_attempts):
            reports.append(drain(conn, provider, now=at))
            at += timedelta(seconds=POLICY.retry_cap_s)
        assert [(r.retrying, r.failed) for r in reports] == [(1, 0), (1, 0), (0, 1)]
        ((status, attempts, next_at, _),) = rows(conn)
        assert (status, attempts, next_at) == ("failed", POLICY.max_attempts, None)
        assert drain(conn, provider, now=at + timedelta(days=1)).failed == 0
        assert len(fake_twilio.requests) == POLICY.max_attempts
