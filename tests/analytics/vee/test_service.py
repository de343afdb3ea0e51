from datetime import date, timedelta

import pytest

from analytics.vee import service as vee
from analytics.vee.repository import VeeRepository
from core.config_analytics import VeeSettings
from tests import clock
from tests.analytics.arrange import NOW, local_midnight_utc
from wire.alarms import Alarm

pytestmark = pytest.mark.services

HOUR = timedelta(hours=1)
T0 = NOW - timedelta(hours=6)
# Long enough ago that the meter has been silent since.
EARLY = NOW - timedelta(hours=20)


def _flags(db, meter, rule=None):
    return VeeRepository(db).flags([meter], rule=rule)


def _estimates(db, meter):
    return db.execute(
        "SELECT time, index_l FROM reading WHERE meter_id = %s AND source = 'estimated'"
        " ORDER BY time",
        (meter,),
    ).fetchall()


def _audit(db, meter):
    return db.execute(
        "SELECT action, detail FROM audit_log WHERE target_type = 'meter' AND target_id = %s"
        " ORDER BY id",
        (str(meter),),
    ).fetchall()


def _run(db, **kwargs):
    with db.transaction():
        return vee.run(db, default_country="PG", **kwargs)


def _usual(scan_fleet, meter, litres=200):
    first = (NOW - timedelta(days=20)).date()
    scan_fleet.daily(meter, first_day=first, volumes=[litres] * 15)


class TestRegisterSteps:
    def test_a_wrap_at_the_register_range_is_accepted_with_the_wrapped_volume(self, db, scan_fleet):
        meter = scan_fleet.meter()
        scan_fleet.readings(meter, start=T0, hourly_l=[5, 10], start_index=999_999_990)
        db.execute(
            "UPDATE reading SET index_l = index_l - 1000000000"
            " WHERE meter_id = %s AND index_l >= 1000000000",
            (meter,),
        )
        _run(db, now=NOW)
        [flag] = _flags(db, meter)
        assert (flag.rule, flag.status, flag.used_l) == ("rollover", "accepted", 10)
        assert flag.validated_index_l == flag.raw_index_l == 5

    def test_a_step_back_without_reverse_flow_is_suspect(self, db, scan_fleet):
        meter = scan_fleet.meter()
        scan_fleet.readings(meter, start=T0, hourly_l=[10, -4])
        _run(db, now=NOW)
        [flag] = _flags(db, meter)
        assert (flag.rule, flag.status, flag.detail["reverse_l"]) == ("negative_step", "suspect", 4)

    def test_a_step_back_the_meter_reports_as_backflow_is_accepted(self, db, scan_fleet):
        meter = scan_fleet.meter()
        scan_fleet.readings(meter, start=T0, hourly_l=[10, -4], alarms=[0, 0, int(Alarm.BACKFLOW)])
        _run(db, now=NOW)
        [flag] = _flags(db, meter)
        assert (flag.rule, flag.status) == ("negative_step", "accepted")
        # The raw reading is untouched.
        assert db.execute(
            "SELECT index_l FROM reading WHERE meter_id = %s ORDER BY time DESC LIMIT 1",
            (meter,),
        ).fetchone() == (1006,)

    def test_a_step_far_above_the_usual_day_is_a_spike(self, db, scan_fleet):
        meter = scan_fleet.meter()
        _usual(scan_fleet, meter, 200)
        scan_fleet.readings(meter, start=T0, hourly_l=[20, 700, 20])
        _run(db, now=NOW)
        [flag] = _flags(db, meter)
        assert (flag.rule, flag.used_l, flag.detail["usual_daily_l"]) == ("spike", 700, 200)

    def test_ordinary_use_raises_no_flag(self, db, scan_fleet):
        meter = scan_fleet.meter()
        _usual(scan_fleet, meter, 200)
        scan_fleet.readings(meter, start=T0, hourly_l=[20, 0, 150, 0, 30])
        _run(db, now=NOW)
        assert _flags(db, meter) == []


class TestGaps:
    def test_a_short_gap_is_estimated_linearly_and_audited(self, db, scan_fleet):
        meter = scan_fleet.meter()
        scan_fleet.readings(meter, start=NOW - 7 * HOUR, hourly_l=[10])
        scan_fleet.readings(meter, start=NOW - 2 * HOUR, hourly_l=[10], start_index=1050)
        report = _run(db, now=NOW)
        assert report.estimates_written == 3
        assert [index for _, index in _estimates(db, meter)] == [1020, 1030, 1040]
        [flag] = _flags(db, meter, "gap")
        assert (flag.status, flag.detail["method"]) == ("estimated", "linear")
        [(action, detail)] = _audit(db, meter)
        assert action == "vee.estimated"
        assert (detail["readings"], detail["by"]) == (3, "vee")
        queued = db.execute("SELECT since FROM rollup_pending WHERE meter_id = %s", (meter,))
        assert queued.fetchone() == (NOW - 5 * HOUR,)

    def test_a_long_gap_follows_the_meters_own_hourly_profile(self, db, scan_fleet):
        meter = scan_fleet.meter()
        # Its profile: all use in the 08:00 UTC hour.
        for day in range(1, 8):
            for hour in range(24):
                start = (EARLY - timedelta(days=day)).replace(hour=hour)
                volume = 70 if hour == 8 else 0
                db.execute(
                    "INSERT INTO meter_hourly (meter_id, hour_start, volume_l, start_index_l,"
                    " end_index_l, reading_count) VALUES (%s, %s, %s, 0, 0, 1)",
                    (meter, start, volume),
                )
        start = EARLY.replace(hour=0)
        scan_fleet.readings(meter, start=start, hourly_l=[0])
        scan_fleet.readings(meter, start=start + 12 * HOUR, hourly_l=[0], start_index=1140)
        _run(db, now=NOW, options=VeeSettings(short_gap_s=3600))
        estimates = dict(_estimates(db, meter))
        assert estimates[start + 8 * HOUR] == 1000
        assert estimates[start + 9 * HOUR] == 1140
        assert _flags(db, meter, "gap")[0].detail["method"] == "profile"

    def test_a_silent_meter_gets_estimates_the_next_reading_replaces(self, db, scan_fleet):
        meter = scan_fleet.meter()
        scan_fleet.readings(meter, start=EARLY - 4 * HOUR, hourly_l=[10] * 4)
        _run(db, now=NOW)
        forward = _estimates(db, meter)
        assert forward
        assert forward[0][0] == EARLY + HOUR
        assert forward[-1][0] <= NOW
        # Ingest stamps arrival with the wall clock, after the estimates were made.
        arrived = clock.now()
        scan_fleet.readings(
            meter, start=NOW - HOUR, hourly_l=[0], start_index=1200, received_at=arrived
        )
        _run(db, now=NOW + timedelta(minutes=10))
        closed = _estimates(db, meter)
        assert [t for t, _ in closed] == [EARLY + k * HOUR for k in range(1, 19)]
        assert closed[-1][1] < 1200
        actions = [action for action, _ in _audit(db, meter)]
        assert actions == ["vee.estimated", "vee.estimates_replaced", "vee.estimated"]

    def test_running_again_changes_nothing(self, db, scan_fleet):
        meter = scan_fleet.meter()
        scan_fleet.readings(meter, start=NOW - 8 * HOUR, hourly_l=[10])
        scan_fleet.readings(meter, start=NOW - 3 * HOUR, hourly_l=[10, -3], start_index=1050)
        _run(db, now=NOW)
        before = (_flags(db, meter), _estimates(db, meter), _audit(db, meter))
        again = _run(db, now=NOW)
        assert (again.flags, again.estimates_written, again.estimates_replaced) == (0, 0, 0)
        assert (_flags(db, meter), _estimates(db, meter), _audit(db, meter)) == before


class TestZeroWhileOccupied:
    def _zero_days(self, scan_fleet, meter):
        first = (NOW - timedelta(days=16)).date()
        scan_fleet.daily(meter, first_day=first, volumes=[200] * 12 + [0, 0, 0, 0])

    def test_days_in_a_row_without_use_in_an_occupied_dwelling_are_flagged(self, db, scan_fleet):
        meter = scan_fleet.meter()
        self._zero_days(scan_fleet, meter)
        scan_fleet.readings(meter, start=T0, hourly_l=[0, 0])
        _run(db, now=NOW)
        flags = _flags(db, meter, "zero_occupied")
        days = [date.fromisoformat(f.detail["day"]) for f in flags]
        assert days[-1] == (NOW - timedelta(days=1)).date()
        assert flags[-1].at == local_midnight_utc(days[-1])
        assert {f.status for f in flags} == {"suspect"}

    def test_a_vacant_dwelling_is_not_flagged(self, db, scan_fleet):
        meter = scan_fleet.meter(occupancy="vacant")
        self._zero_days(scan_fleet, meter)
        scan_fleet.readings(meter, start=T0, hourly_l=[0, 0])
        _run(db, now=NOW)
        assert _flags(db, meter, "zero_occupied") == []


class TestRun:
    def test_it_refuses_to_run_outside_a_transaction(self, db):
        with pytest.raises(RuntimeError, match="transaction"):
            vee.run(db, default_country="PG", now=NOW)


class TestReview:
    def test_an_edit_keeps_the_raw_value_and_audits_who_and_why(self, db, scan_fleet):
        meter = scan_fleet.meter()
        scan_fleet.readings(meter, start=T0, hourly_l=[10, -4])
        _run(db, now=NOW)
        [flag] = _flags(db, meter)
        assert vee.review(
            db,
            meter_id=meter,
            at=flag.at,
            rule=flag.rule,
            status="rejected",
            validated_index_l=None,
            actor_id=None,
            reason="misread by the technician",
        )
        [edited] = _flags(db, meter)
        assert (edited.status, edited.validated_index_l, edited.raw_index_l) == (
            "rejected",
            None,
            1006,
        )
        action, detail = _audit(db, meter)[-1]
        assert action == "vee.edited"
        assert detail["before"]["status"] == "suspect"
        assert detail["why"] == "misread by the technician"

    def test_an_edit_needs_a_reason(self, db):
        with pytest.raises(ValueError, match="reason"):
            vee.review(
                db,
                meter_id=1,
                at=NOW,
                rule="spike",
                status="accepted",
                validated_index_l=None,
                actor_id=None,
                reason=" ",
            )
