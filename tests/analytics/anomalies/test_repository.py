from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from analytics.anomalies.batch import hourly_windows
from analytics.anomalies.repository import ScanRepository
from tests.analytics.arrange import NOW

HOUR = timedelta(hours=1)

pytestmark = pytest.mark.services

T0 = datetime(2026, 11, 24, 0, tzinfo=UTC)


def _add(db, meter, rows):
    for time, index in rows:
        db.execute(
            "INSERT INTO reading (meter_id, time, source, index_l) VALUES (%s, %s, 'iot', %s)",
            (meter, time, index),
        )


class TestHourlyVolumes:
    def test_index_differences_at_hour_ends_on_the_local_clock(self, db, scan_fleet):
        meter = scan_fleet.meter()
        hour = timedelta(hours=1)
        # Quarter-hour readings during the first hour, then hourly, a gap, one more.
        _add(db, meter, [(T0, 100), (T0 + hour / 4, 110), (T0 + hour, 130)])
        _add(db, meter, [(T0 + 2 * hour, 130), (T0 + 4 * hour, 170)])
        window = hourly_windows(
            ScanRepository(db),
            {meter: "Pacific/Port_Moresby"},
            since=T0,
            until=T0 + 5 * hour,
        )[meter]
        assert window.hour_start[0] == np.datetime64("2026-11-24T00:00:00")
        # The 03:00 reading is missing: hours 02-04 are unknown, not zero.
        assert np.array_equal(window.volume_l, [30.0, 0.0, np.nan, np.nan, np.nan], equal_nan=True)
        # Port Moresby, UTC+10.
        assert window.local_hour.tolist() == [10, 11, 12, 13, 14]
        assert window.local_day.tolist() == [date(2026, 11, 24)] * 5

    def test_a_register_going_back_is_no_volume(self, db, scan_fleet):
        meter = scan_fleet.meter()
        _add(db, meter, [(T0, 100), (T0 + timedelta(hours=1), 90)])
        window = hourly_windows(
            ScanRepository(db), {meter: "UTC"}, since=T0, until=T0 + timedelta(hours=1)
        )[meter]
        assert np.isnan(window.volume_l).all()

    def test_estimates_are_not_measurements(self, db, scan_fleet):
        meter = scan_fleet.meter()
        hour = timedelta(hours=1)
        _add(db, meter, [(T0, 100), (T0 + 2 * hour, 120)])
        db.execute(
            "INSERT INTO reading (meter_id, time, source, index_l)"
            " VALUES (%s, %s, 'estimated', 110)",
            (meter, T0 + hour),
        )
        window = hourly_windows(ScanRepository(db), {meter: "UTC"}, since=T0, until=T0 + 2 * hour)[
            meter
        ]
        assert np.isnan(window.volume_l).all()

    def test_a_meter_without_readings_gets_an_unknown_window(self, db, scan_fleet):
        meter = scan_fleet.meter()
        window = hourly_windows(
            ScanRepository(db), {meter: "UTC"}, since=T0, until=T0 + timedelta(hours=3)
        )[meter]
        assert len(window.volume_l) == 3
        assert np.isnan(window.volume_l).all()


class TestTouchedMeters:
    def test_meters_with_data_or_rollups_after_the_instant(self, db, scan_fleet):
        fresh, stale, rolled = scan_fleet.meter(), scan_fleet.meter(), scan_fleet.meter()
        scan_fleet.readings(fresh, start=NOW - timedelta(hours=2), hourly_l=[1.0])
        scan_fleet.readings(stale, start=NOW - timedelta(days=2), hourly_l=[1.0])
        scan_fleet.daily(rolled, first_day=date(2026, 11, 20), volumes=[100])
        db.execute("UPDATE meter_daily SET updated_at = %s", (NOW,))
        repo = ScanRepository(db)
        assert repo.touched_meters(NOW - timedelta(days=1)) == [fresh, rolled]


class TestDailyVolumes:
    def test_rollups_in_the_range_with_occupants(self, db, scan_fleet):
        meter = scan_fleet.meter(occupants=4)
        scan_fleet.daily(meter, first_day=date(2026, 11, 1), volumes=[100, 200, 300])
        rows = ScanRepository(db).daily_volumes(
            [meter], since=date(2026, 11, 2), until=date(2026, 11, 3)
        )
        assert [(r.day, r.volume_l, r.occupants) for r in rows] == [(date(2026, 11, 2), 200, 4)]

    def test_peers_are_occupied_dwellings_of_the_type_in_a_stable_sample(self, db, scan_fleet):
        flats = [scan_fleet.meter() for _ in range(5)]
        house = scan_fleet.meter(dwelling_type="house")
        empty = scan_fleet.meter(occupancy="vacant")
        for meter in [*flats, house, empty]:
            scan_fleet.daily(meter, first_day=date(2026, 11, 1), volumes=[100])
        repo = ScanRepository(db)
        sample = repo.peer_daily_volumes(
            "apartment", since=date(2026, 11, 1), until=date(2026, 11, 2), max_meters=3
        )
        assert len(sample) == 3
        assert {r.meter_id for r in sample} <= set(flats)
        again = repo.peer_daily_volumes(
            "apartment", since=date(2026, 11, 1), until=date(2026, 11, 2), max_meters=3
        )
        assert again == sample


class TestReportingStates:
    def test_connected_meters_only_with_their_last_sign_of_life(self, db, scan_fleet):
        reporting, never = (
            scan_fleet.meter(),
            scan_fleet.meter(installed_at=NOW - timedelta(days=3)),
        )
        db.execute(
            "UPDATE meter SET created_at = %s WHERE id = %s", (NOW - timedelta(days=5), never)
        )
        manual = scan_fleet.meter()
        db.execute("UPDATE meter SET kind = 'mechanical' WHERE id = %s", (manual,))
        scan_fleet.readings(reporting, start=NOW - timedelta(hours=2), hourly_l=[1.0])
        states = ScanRepository(db).reporting_states(None, now=NOW)
        assert [(s.meter_id, s.last_heard_at) for s in states] == [
            (reporting, NOW - timedelta(hours=1)),
            (never, NOW - timedelta(days=3)),
        ]

    def test_a_meter_delivering_old_data_now_is_heard_from_now(self, db, scan_fleet):
        # A fleet replaying last month: readings stamped weeks ago, arriving a minute ago.
        replaying = scan_fleet.meter()
        scan_fleet.readings(
            replaying,
            start=NOW - timedelta(days=30),
            hourly_l=[1.0] * 3,
            received_at=NOW - timedelta(minutes=1),
        )
        [state] = ScanRepository(db).reporting_states([replaying], now=NOW)
        assert state.last_heard_at == NOW - timedelta(minutes=1)
        # A scan judging an instant before that arrival does not see it.
        earlier = NOW - timedelta(days=10)
        [state] = ScanRepository(db).reporting_states([replaying], now=earlier)
        assert state.last_heard_at == NOW - timedelta(days=30) + timedelta(hours=3)

    def test_a_meter_never_heard_from_counts_from_its_registration(self, db, scan_fleet):
        # Installed (per the utility's records) a year ago, registered here an hour ago.
        meter = scan_fleet.meter(installed_at=NOW - timedelta(days=365))
        db.execute("UPDATE meter SET created_at = %s WHERE id = %s", (NOW - HOUR, meter))
        [state] = ScanRepository(db).reporting_states([meter], now=NOW)
        assert state.last_heard_at == NOW - HOUR
