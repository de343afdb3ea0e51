"""Retention on a real TimescaleDB: raw-reading chunks past the age go, the rollups stay, and
no chunk goes while it holds readings the rollups have not taken in."""

from datetime import UTC, datetime, timedelta

import pytest

from analytics.rollups.service import drop_old_readings
from tests.analytics.conftest import Fleet

pytestmark = pytest.mark.services

JAN = datetime(2025, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def arrange(fleet: Fleet) -> int:
    meter = fleet.meter(installed_at=JAN - DAY)
    # One reading every 6 hours over ten days: ten daily chunks.
    fleet.readings(meter, [(JAN + i * DAY / 4, 100 * i) for i in range(40)])
    return meter


def raw_days(db, meter) -> list[int]:
    rows = db.execute(
        "SELECT DISTINCT date_trunc('day', time AT TIME ZONE 'UTC') FROM reading"
        " WHERE meter_id = %s ORDER BY 1",
        [meter],
    ).fetchall()
    return [row[0].day for row in rows]


class TestDropOldReadings:
    def test_chunks_past_the_age_go_and_the_rollups_stay(self, db, fleet):
        meter = arrange(fleet)
        fleet.refresh()
        daily_before = fleet.daily(meter)
        with db.transaction():
            dropped = drop_old_readings(db, older_than=JAN + 4 * DAY)
        assert len(dropped) == 4
        assert raw_days(db, meter) == [5, 6, 7, 8, 9, 10]
        assert fleet.daily(meter) == daily_before

    def test_readings_not_rolled_up_yet_keep_their_chunks(self, db, fleet):
        meter = arrange(fleet)
        fleet.refresh()
        # A late reading on 3 January, queued for the rollups but not yet taken in.
        fleet.readings(meter, [(JAN + 2 * DAY + timedelta(hours=1), 810)])
        with db.transaction():
            dropped = drop_old_readings(db, older_than=JAN + 4 * DAY)
        assert len(dropped) == 2
        assert raw_days(db, meter)[0] == 3
