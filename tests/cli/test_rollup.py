import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from tests.analytics.conftest import Fleet

pytestmark = pytest.mark.services

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def run_env(database_url: str) -> dict[str, str]:
    return {**os.environ, "WATERBILL_DATABASE_URL": database_url, "WATERBILL_LOG_LEVEL": "INFO"}


def waterbill(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli", *args]


def daily_total(db, meter_id: int) -> int | None:
    row = db.execute("SELECT sum(volume_l) FROM meter_daily WHERE meter_id = %s", [meter_id])
    value = row.fetchone()
    return None if value is None or value[0] is None else int(value[0])


class TestRollupOnce:
    def test_drains_the_whole_queue_in_batches_and_exits(self, db, database_url):
        fleet = Fleet(db)
        meters = [fleet.meter(installed_at=T0) for _ in range(5)]
        for meter in meters:
            fleet.readings(meter, [(T0 + timedelta(hours=i), 10 * i) for i in range(1, 25)])

        done = subprocess.run(
            waterbill("rollup", "--limit", "2"),
            env=run_env(database_url),
            capture_output=True,
            text=True,
            timeout=60,
        )

        assert done.returncode == 0, done.stderr
        assert [daily_total(db, meter) for meter in meters] == [240] * 5
        assert db.execute("SELECT count(*) FROM rollup_pending").fetchone() == (0,)
        assert "rollups refreshed for 2 meters" in done.stderr

    def test_refuses_a_zero_limit(self, database_url):
        done = subprocess.run(
            waterbill("rollup", "--limit", "0"),
            env=run_env(database_url),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2
        assert "--limit" in done.stderr
