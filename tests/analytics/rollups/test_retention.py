"""Retention on a real TimescaleDB: raw-reading chunks past the age go, the rollups stay, and
no chunk goes while it holds readings the rollups have not taken in."""

from datetime import UTC, datetime, timedelta

import psycopg
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


class TestTheDatabaseKeepsWhatRetentionMayNotDrop:
    """``drop_reading_chunks`` (migration 0023) is the runtime role's only way to drop chunks:
    its own limits hold whatever the application asks."""

    def test_the_runtime_role_drops_chunks_only_through_the_function(self, db, fleet):
        meter = arrange(fleet)
        fleet.refresh()
        with db.transaction():
            db.execute("SET LOCAL ROLE waterbill_app")
            with pytest.raises(psycopg.errors.InsufficientPrivilege), db.transaction():
                db.execute("SELECT drop_chunks('reading', older_than => %s)", [JAN + 4 * DAY])
            dropped = drop_old_readings(db, older_than=JAN + 4 * DAY)
        assert len(dropped) == 4
        assert raw_days(db, meter)[0] == 5

    def test_the_last_day_is_kept_even_when_asked(self, db, fleet):
        meter = fleet.meter(installed_at=JAN)
        recent = db.execute("SELECT now() - interval '1 hour'").fetchone()[0]
        fleet.readings(meter, [(recent, 1)])
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="last day"):
            db.execute("SELECT drop_reading_chunks(now())")
        assert db.execute("SELECT count(*) FROM reading").fetchone() == (1,)

    def test_unrolled_readings_are_kept_even_when_asked(self, db, fleet):
        meter = arrange(fleet)
        # Nothing rolled up yet: the function drops no chunk, whatever the age asked.
        rows = db.execute("SELECT drop_reading_chunks(%s)", [JAN + 8 * DAY]).fetchall()
        assert rows == []
        assert raw_days(db, meter)[0] == 1
