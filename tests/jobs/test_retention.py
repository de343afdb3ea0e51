"""The retention job in a real worker, on its schedule: old raw readings go, rollups stay."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.analytics.conftest import Fleet
from tests.jobs.workers import quiet_worker_env, read_logs, wait_for

pytestmark = [pytest.mark.services, pytest.mark.slow]

JAN = datetime(2025, 1, 1, tzinfo=UTC)


class TestRetentionJob:
    def test_the_scheduled_job_drops_chunks_past_the_configured_age(
        self, db, database_url, start_worker, tmp_path
    ):
        fleet = Fleet(db)
        meter = fleet.meter(installed_at=JAN - timedelta(days=1))
        fleet.readings(meter, [(JAN + i * timedelta(hours=6), 100 * i) for i in range(12)])
        fleet.refresh()
        days = db.execute("SELECT count(*) FROM meter_daily WHERE meter_id = %s", [meter])
        daily = days.fetchone()
        # Every minute, and the latest minute caught up on at start: it runs at once.
        env = quiet_worker_env(
            database_url, retention_cron="* * * * *", catch_up_s="3600", retention_days="30"
        )
        start_worker(env)
        logs = read_logs(tmp_path)

        def done() -> bool:
            row = db.execute(
                "SELECT status::text FROM procrastinate_jobs WHERE task_name = 'retention'"
            ).fetchone()
            assert row != ("failed",), logs()
            return bool(row == ("succeeded",))

        wait_for(done, "the retention job", logs)
        assert db.execute("SELECT count(*) FROM reading").fetchone() == (0,)
        assert (
            db.execute("SELECT count(*) FROM meter_daily WHERE meter_id = %s", [meter]).fetchone()
            == daily
        )
