"""``waterbill analyze --alerts``, ``waterbill alerts send`` and the worker's scheduled scan and
alerts as real processes: the scan opens an incident, the alert texts the occupant through the
fake Twilio."""

import os
import subprocess
import sys
import time

import psycopg
import pytest

from tests.jobs.workers import CRONS, NEVER
from tests.twilio_fake import FakeTwilio

pytestmark = pytest.mark.services


@pytest.fixture
def fake_twilio():
    fake = FakeTwilio().start()
    yield fake
    fake.stop()


@pytest.fixture
def env(database_url, fake_twilio) -> dict[str, str]:
    return {
        **os.environ,
        "WATERBILL_DATABASE_URL": database_url,
        "WATERBILL_LOG_LEVEL": "INFO",
        "WATERBILL_SMS__PROVIDER": "twilio",
        "WATERBILL_SMS__TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "WATERBILL_SMS__TWILIO_AUTH_TOKEN": "token",
        "WATERBILL_SMS__FROM_NUMBER": "+15005550006",
        "WATERBILL_SMS__TWILIO_BASE_URL": fake_twilio.base_url,
        # Confirmed at once, and no quiet hours: the test must not depend on the time of day.
        "WATERBILL_ALERTS__CONFIRM_AFTER_S": "0",
        "WATERBILL_ALERTS__QUIET_START": "00:00",
        "WATERBILL_ALERTS__QUIET_END": "00:00",
    }


def waterbill(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli", *args]


def silent_meter(db: psycopg.Connection, serial: str, phone: str) -> int:
    """A connected meter installed and registered two days ago that never spoke, in an occupied
    home."""
    row = db.execute(
        """
        WITH z AS (INSERT INTO zone (country_code, code, name) VALUES ('CM', %(s)s, 'Z')
                   RETURNING id),
             b AS (INSERT INTO building (zone_id, name) SELECT id, 'B' FROM z RETURNING id),
             d AS (INSERT INTO dwelling (building_id, reference, dwelling_type)
                   SELECT id, 'D', 'house' FROM b RETURNING id),
             u AS (INSERT INTO app_user (phone, first_name, last_name, language, is_active,
                                         password_hash)
                   VALUES (%(phone)s, 'A', 'N', 'fr', true, '-') RETURNING id),
             o AS (INSERT INTO dwelling_occupant (user_id, dwelling_id, relation, start_date)
                   SELECT u.id, d.id, 'tenant', '2020-01-01' FROM u, d)
        INSERT INTO meter (serial, kind, dwelling_id, installed_at, created_at)
        SELECT %(s)s, 'iot', d.id, now() - interval '2 days', now() - interval '2 days' FROM d
        RETURNING id
        """,
        {"s": serial, "phone": phone},
    ).fetchone()
    assert row is not None
    return int(row[0])


class TestAnalyzeWithAlerts:
    def test_the_scan_opens_an_incident_and_the_occupant_is_texted_once(self, db, env, fake_twilio):
        silent_meter(db, "WB-SILENT1", "+237658552294")
        done = subprocess.run(
            waterbill("analyze", "--alerts"), env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert "1 opened" in done.stdout
        assert "1 SMS queued; 1 sent" in done.stdout
        (request,) = fake_twilio.requests
        assert request.form["To"] == "+237658552294"
        assert request.form["Body"].startswith("WaterBill: le compteur WB-SILENT1 n'envoie plus")

        again = subprocess.run(
            waterbill("alerts", "send"), env=env, capture_output=True, text=True, timeout=60
        )
        assert again.returncode == 0, again.stderr
        assert "0 incidents confirmed, 0 SMS queued; none due" in again.stdout
        assert len(fake_twilio.requests) == 1
        assert db.execute("SELECT status::text FROM alert_delivery").fetchall() == [("sent",)]


class TestScheduledAlerts:
    def test_the_worker_scans_and_texts_without_a_command_running(
        self, db, env, fake_twilio, start_worker
    ):
        """What `analyze --follow --alerts` did by hand: the scan and alert jobs, on a schedule."""
        never = {f"WATERBILL_JOBS__{name.upper()}": NEVER for name in CRONS}
        every_second = {
            "WATERBILL_JOBS__SCAN_CRON": "* * * * * *",
            "WATERBILL_JOBS__ALERTS_CRON": "* * * * * *",
            "WATERBILL_JOBS__CATCH_UP_S": "10",
        }
        start_worker({**env, **never, **every_second})
        silent_meter(db, "WB-SILENT2", "+237658552295")
        deadline = time.monotonic() + 60
        while not fake_twilio.requests and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(fake_twilio.requests) == 1
        assert fake_twilio.requests[0].form["To"] == "+237658552295"
