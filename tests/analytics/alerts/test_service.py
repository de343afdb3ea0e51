"""Customer SMS alerts through the real Twilio client talking to the local fake, on a real DB."""

import threading
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from pydantic import SecretStr

from analytics.alerts.messages import TEMPLATES, render_alert
from analytics.alerts.models import AlertStatus
from analytics.alerts.service import (
    decide_due,
    first_allowed,
    in_quiet_hours,
    queue_alerts,
    run_alerts,
)
from analytics.incidents.models import IncidentKind
from core.config import SmsProviderName, SmsSettings
from core.config_analytics import AlertSettings
from core.countries import Language
from core.notifications.service import RetryPolicy
from core.sms import TwilioSmsProvider, is_gsm7
from tests.twilio_fake import FakeTwilio

pytestmark = pytest.mark.services

# Port Moresby is UTC+10 all year: 10:30 local.
NOW = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)
PNG = ZoneInfo("Pacific/Port_Moresby")
OPTIONS = AlertSettings()
POLICY = RetryPolicy()


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


def _id(cursor: psycopg.Cursor) -> int:
    row = cursor.fetchone()
    assert row is not None
    return int(row[0])


class Homes:
    """Dwellings of one Port Moresby building, their meters, occupants and incidents."""

    def __init__(self, db: psycopg.Connection) -> None:
        self.db = db
        self.count = 0
        self.building = _id(
            db.execute(
                "WITH z AS (INSERT INTO zone (country_code, code, name)"
                " VALUES ('PG', 'NCD', 'NCD') RETURNING id)"
                " INSERT INTO building (zone_id, name) SELECT id, 'A' FROM z RETURNING id"
            )
        )

    def customer(self, *, language: str = "en", phone: str | None = None) -> int:
        self.count += 1
        return _id(
            self.db.execute(
                "INSERT INTO app_user (phone, first_name, last_name, language, is_active,"
                " password_hash) VALUES (%s, 'C', 'X', %s, true, '-') RETURNING id",
                [phone or f"+6757{self.count:07d}", language],
            )
        )

    def meter(self, *occupants: int, end_date: str | None = None) -> int:
        self.count += 1
        dwelling = _id(
            self.db.execute(
                "INSERT INTO dwelling (building_id, reference, dwelling_type)"
                " VALUES (%s, %s, 'house') RETURNING id",
                [self.building, f"D{self.count}"],
            )
        )
        for user in occupants:
            self.db.execute(
                "INSERT INTO dwelling_occupant (user_id, dwelling_id, relation, start_date,"
                " end_date) VALUES (%s, %s, 'tenant', '2026-01-01', %s)",
                [user, dwelling, end_date],
            )
        return _id(
            self.db.execute(
                "INSERT INTO meter (serial, kind, dwelling_id, installed_at)"
                " VALUES (%s, 'iot', %s, '2026-01-01Z') RETURNING id",
                [f"SIM-{self.count:06d}", dwelling],
            )
        )

    def incident(
        self,
        meter: int,
        *,
        kind: str = "leak",
        severity: str = "warning",
        opened: datetime = NOW - timedelta(hours=2),
        status: str = "open",
    ) -> int:
        return _id(
            self.db.execute(
                "INSERT INTO incident (meter_id, kind, severity, status, started_at, last_seen_at,"
                " opened_at) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
                [meter, kind, severity, status, opened - timedelta(hours=30), opened, opened],
            )
        )

    def deliveries(self) -> list[tuple[Any, ...]]:
        """Each delivery with its SMS's attempts and provider id from the outbox."""
        return self.db.execute(
            "SELECT d.incident_id, d.user_id, d.status::text, coalesce(o.attempts, 0),"
            " d.next_attempt_at, o.provider_id, d.error, d.text"
            " FROM alert_delivery d LEFT JOIN sms_outbox o ON o.id = d.outbox_id ORDER BY d.id"
        ).fetchall()

    def outbox(self) -> list[tuple[Any, ...]]:
        return self.db.execute(
            "SELECT status::text, attempts, next_attempt_at, provider_id, last_error, text"
            " FROM sms_outbox ORDER BY id"
        ).fetchall()


@pytest.fixture
def homes(db) -> Homes:
    return Homes(db)


@pytest.fixture
def conn(database_url):
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


def run(conn, provider, now=NOW, options=OPTIONS, policy=POLICY):
    return run_alerts(conn, provider=provider, policy=policy, now=now, options=options)


class TestMessages:
    @pytest.mark.parametrize("kind", list(IncidentKind))
    @pytest.mark.parametrize("language", list(Language))
    def test_every_kind_speaks_every_language_in_one_gsm7_segment(self, kind, language):
        text = render_alert(
            kind.value, language.value, serial="SIM-000123", since=datetime(2026, 11, 24, 22, 5)
        )
        assert is_gsm7(text), text
        assert len(text) <= 160
        assert "SIM-000123" in text
        assert "24/11 22:05" in text
        assert TEMPLATES[kind][language]

    @pytest.mark.parametrize("language", list(Language))
    def test_a_kind_without_words_yet_gets_the_generic_text(self, language):
        text = render_alert(
            "pressure_drop", language.value, serial="SIM-000123", since=datetime(2026, 1, 2, 3, 4)
        )
        assert is_gsm7(text)
        assert len(text) <= 160
        assert "(pressure_drop)" in text
        assert "02/01 03:04" in text


class TestQuietHours:
    @pytest.mark.parametrize(
        ("clock", "quiet"),
        [
            (time(20, 59), False),
            (time(21, 0), True),
            (time(23, 59), True),
            (time(0, 0), True),
            (time(6, 59), True),
            (time(7, 0), False),
            (time(12, 0), False),
        ],
    )
    def test_a_window_across_midnight(self, clock, quiet):
        assert in_quiet_hours(clock, start=time(21), end=time(7)) is quiet

    def test_a_window_within_a_day(self):
        assert in_quiet_hours(time(13), start=time(12), end=time(14))
        assert not in_quiet_hours(time(14), start=time(12), end=time(14))

    def test_an_empty_window_is_never_quiet(self):
        assert not in_quiet_hours(time(3), start=time(7), end=time(7))

    def test_late_evening_waits_for_the_next_morning(self):
        evening = datetime(2026, 11, 24, 22, 15, tzinfo=PNG)
        allowed = first_allowed(evening, start=time(21), end=time(7))
        assert allowed == datetime(2026, 11, 25, 7, 0, tzinfo=PNG)

    def test_small_hours_wait_for_the_same_morning(self):
        night = datetime(2026, 11, 25, 3, 0, tzinfo=PNG)
        assert first_allowed(night, start=time(21), end=time(7)) == datetime(
            2026, 11, 25, 7, 0, tzinfo=PNG
        )


class TestOncePerIncident:
    def test_a_confirmed_incident_texts_each_current_occupant_once(
        self, homes, conn, provider, fake_twilio
    ):
        tenant, partner, gone = homes.customer(), homes.customer(language="fr"), homes.customer()
        meter = homes.meter(tenant, partner)
        homes.db.execute(
            "INSERT INTO dwelling_occupant (user_id, dwelling_id, relation, start_date, end_date)"
            " SELECT %s, dwelling_id, 'tenant', '2025-01-01', '2025-12-31' FROM meter"
            " WHERE id = %s",
            [gone, meter],
        )
        incident = homes.incident(meter)
        report = run(conn, provider)
        assert (report.claimed, report.queued) == (1, 2)
        assert report.count(AlertStatus.SENT) == 2
        texts = {r.form["To"]: r.form["Body"] for r in fake_twilio.requests}
        assert len(texts) == 2
        assert any(t.startswith("WaterBill: l'eau coule") for t in texts.values())
        assert any(t.startswith("WaterBill: water keeps flowing") for t in texts.values())
        # Since when: the incident's start in Port Moresby's time.
        assert all("23/11 02:30" in t for t in texts.values())
        rows = homes.deliveries()
        assert {(r[0], r[2], r[3]) for r in rows} == {(incident, "sent", 1)}
        assert all(r[5].startswith("SM") for r in rows)

        again = run(conn, provider, now=NOW + timedelta(hours=3))
        assert (again.claimed, again.queued, again.outcomes, again.sms.sent) == (0, 0, {}, 0)
        assert len(fake_twilio.requests) == 2

    def test_an_incident_is_confirmed_only_after_an_hour(self, homes, conn, provider):
        meter = homes.meter(homes.customer())
        homes.incident(meter, opened=NOW - timedelta(minutes=20))
        assert run(conn, provider).claimed == 0
        assert run(conn, provider, now=NOW + timedelta(minutes=41)).claimed == 1

    def test_info_incidents_and_ones_already_over_send_nothing(self, homes, conn, provider):
        meter = homes.meter(homes.customer())
        homes.incident(meter, severity="info")
        homes.incident(meter, kind="burst", status="resolved")
        assert run(conn, provider).claimed == 0

    def test_concurrent_senders_text_each_customer_once(
        self, homes, database_url, provider, fake_twilio
    ):
        for _ in range(12):
            homes.incident(homes.meter(homes.customer()))
        barrier = threading.Barrier(3)
        errors: list[BaseException] = []

        def sender() -> None:
            try:
                with psycopg.connect(database_url, autocommit=True) as connection:
                    barrier.wait()
                    run(connection, provider)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=sender) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(fake_twilio.requests) == 12
        assert len({r.form["To"] for r in fake_twilio.requests}) == 12
        assert {r[2] for r in homes.deliveries()} == {"sent"}


class TestQuietHoursAndCap:
    def test_at_night_the_sms_waits_for_the_morning(self, homes, conn, provider, fake_twilio):
        homes.incident(homes.meter(homes.customer()))
        night = datetime(2026, 11, 24, 22, 15, tzinfo=PNG)
        report = run(conn, provider, now=night)
        assert report.count(AlertStatus.DEFERRED) == 1
        ((_, _, status, attempts, next_at, *_),) = homes.deliveries()
        assert (status, attempts) == ("deferred", 0)
        assert next_at == datetime(2026, 11, 25, 7, 0, tzinfo=PNG)
        assert fake_twilio.requests == []

        assert run(conn, provider, now=night + timedelta(hours=5)).outcomes == {}
        morning = run(conn, provider, now=datetime(2026, 11, 25, 7, 1, tzinfo=PNG))
        assert morning.count(AlertStatus.SENT) == 1
        assert len(fake_twilio.requests) == 1

    def test_quiet_hours_follow_the_settings(self, homes, conn, provider):
        homes.incident(homes.meter(homes.customer()))
        options = AlertSettings(quiet_start=time(10), quiet_end=time(11))
        assert run(conn, provider, options=options).count(AlertStatus.DEFERRED) == 1

    def test_a_customer_gets_at_most_the_daily_cap(self, homes, conn, provider, fake_twilio):
        customer = homes.customer()
        kinds = ["leak", "burst", "stuck", "abnormal", "backflow"]
        for kind in kinds:
            homes.incident(homes.meter(customer), kind=kind)
        report = run(conn, provider)
        assert report.count(AlertStatus.SENT) == 3
        assert report.count(AlertStatus.DEFERRED) == 2
        deferred = [r for r in homes.deliveries() if r[2] == "deferred"]
        # The next local day, after its quiet hours.
        assert {r[4] for r in deferred} == {datetime(2026, 11, 25, 7, 0, tzinfo=PNG)}
        next_day = run(conn, provider, now=datetime(2026, 11, 25, 9, 0, tzinfo=PNG))
        assert next_day.count(AlertStatus.SENT) == 2
        assert len(fake_twilio.requests) == 5

    def test_concurrent_deciders_keep_to_the_cap(self, homes, database_url):
        customer = homes.customer()
        for _ in range(8):
            homes.incident(homes.meter(customer))
        with psycopg.connect(database_url, autocommit=True) as connection:
            with connection.transaction():
                queue_alerts(connection, now=NOW, options=OPTIONS)
        barrier = threading.Barrier(4)

        def sender() -> None:
            with psycopg.connect(database_url, autocommit=True) as connection:
                barrier.wait()
                decide_due(connection, now=NOW, options=OPTIONS)

        threads = [threading.Thread(target=sender) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        statuses = [r[2] for r in homes.deliveries()]
        assert sorted(statuses) == ["deferred"] * 5 + ["sent"] * 3

    def test_the_cap_is_per_customer(self, homes, conn, provider):
        for _ in range(4):
            homes.incident(homes.meter(homes.customer()))
        assert run(conn, provider).count(AlertStatus.SENT) == 4


class TestMutes:
    def test_a_muted_category_is_recorded_not_sent(self, homes, conn, provider, fake_twilio):
        customer = homes.customer()
        homes.db.execute(
            "INSERT INTO alert_mute (user_id, category) VALUES (%s, 'low_battery')", [customer]
        )
        meter = homes.meter(customer)
        homes.incident(meter, kind="low_battery")
        homes.incident(meter, kind="leak")
        report = run(conn, provider)
        assert report.count(AlertStatus.MUTED) == 1
        assert report.count(AlertStatus.SENT) == 1
        assert len(fake_twilio.requests) == 1
        assert "leak" in fake_twilio.requests[0].form["Body"]


class TestFailures:
    def test_a_refused_send_is_retried_by_the_outbox_with_backoff(
        self, homes, conn, provider, fake_twilio
    ):
        homes.incident(homes.meter(homes.customer()))
        fake_twilio.fail_with = 400
        report = run(conn, provider)
        assert (report.count(AlertStatus.SENT), report.sms.retrying) == (1, 1)
        ((status, attempts, next_at, provider_id, error, text),) = homes.outbox()
        assert (status, attempts, provider_id) == ("queued", 1, None)
        assert "Invalid 'To' Phone Number" in error
        assert next_at == NOW + timedelta(seconds=POLICY.retry_s)
        assert text.startswith("WaterBill:")
        # Handed over once: the alert itself is not decided again.
        assert [r[2] for r in homes.deliveries()] == ["sent"]

        assert run(conn, provider, now=NOW + timedelta(seconds=60)).sms.retrying == 0
        later = NOW + timedelta(seconds=POLICY.retry_s)
        assert run(conn, provider, now=later).sms.retrying == 1
        assert homes.outbox()[0][2] == later + timedelta(seconds=2 * POLICY.retry_s)

        fake_twilio.fail_with = None
        final = run(conn, provider, now=later + timedelta(seconds=2 * POLICY.retry_s))
        assert final.sms.sent == 1
        ((_, _, status, attempts, _, provider_id, error, _),) = homes.deliveries()
        assert (status, attempts, error) == ("sent", 3, None)
        assert provider_id.startswith("SM")
        assert homes.outbox()[0][:3] == ("sent", 3, None)
        assert len(fake_twilio.requests) == 3

    def test_retries_stop_after_the_last_attempt(self, homes, conn, provider, fake_twilio):
        homes.incident(homes.meter(homes.customer()))
        fake_twilio.fail_with = 500
        policy = RetryPolicy(max_attempts=2, retry_s=10)
        run(conn, provider, policy=policy)
        assert run(conn, provider, now=NOW + timedelta(seconds=10), policy=policy).sms.failed == 1
        ((status, attempts, next_at, *_),) = homes.outbox()
        assert (status, attempts, next_at) == ("failed", 2, None)
        assert run(conn, provider, now=NOW + timedelta(days=1), policy=policy).sms.sent == 0
        assert len(fake_twilio.requests) == 2


class TestCancellations:
    def test_an_incident_closed_before_the_morning_is_not_sent(
        self, homes, conn, provider, fake_twilio
    ):
        incident = homes.incident(homes.meter(homes.customer()))
        run(conn, provider, now=datetime(2026, 11, 24, 23, 0, tzinfo=PNG))
        homes.db.execute("UPDATE incident SET status = 'closed' WHERE id = %s", [incident])
        morning = run(conn, provider, now=datetime(2026, 11, 25, 8, 0, tzinfo=PNG))
        assert morning.count(AlertStatus.CANCELLED) == 1
        assert fake_twilio.requests == []

    def test_an_erased_customer_is_not_texted(self, homes, conn, provider, fake_twilio):
        customer = homes.customer()
        homes.incident(homes.meter(customer))
        homes.db.execute(
            "UPDATE app_user SET phone = NULL, erased_at = now() WHERE id = %s", [customer]
        )
        assert run(conn, provider).count(AlertStatus.CANCELLED) == 1
        assert homes.deliveries()[0][6] == "the account is inactive, erased or has no phone"
        assert fake_twilio.requests == []


class TestSteps:
    def test_queueing_rolls_back_with_the_callers_transaction(self, homes, conn):
        homes.incident(homes.meter(homes.customer()))
        with conn.transaction(force_rollback=True):
            assert queue_alerts(conn, now=NOW, options=OPTIONS) == (1, 1)
        assert homes.deliveries() == []
        with conn.transaction():
            assert queue_alerts(conn, now=NOW, options=OPTIONS) == (1, 1)

    def test_decide_due_respects_its_limit(self, homes, conn):
        for _ in range(3):
            homes.incident(homes.meter(homes.customer()))
        with conn.transaction():
            queue_alerts(conn, now=NOW, options=OPTIONS)
        assert decide_due(conn, now=NOW, options=OPTIONS, limit=2) == {"sent": 2}
        assert len(homes.outbox()) == 2
