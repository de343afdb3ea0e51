from datetime import date, timedelta

import numpy as np
import psycopg
import pytest

from analytics.anomalies import service
from analytics.anomalies.repository import WHOLE, ScanRepository
from analytics.forecast.synthetic import daily_fleet
from analytics.incidents.repository import IncidentBatchRepository
from tests.analytics.arrange import NOW, local_midnight_utc
from tests.analytics.synthetic import household
from wire.alarms import Alarm

pytestmark = pytest.mark.services

# Readings from local midnight, 12 Oct, to NOW (20:00 local on 24 Nov): 1052 hours.
START = local_midnight_utc(date(2026, 10, 12))
HOURS = int((NOW.replace(minute=0) - START).total_seconds() // 3600)


def _leaking(hours_of_leak: int, *, seed: int = 0) -> np.ndarray:
    volumes = household(44, seed=seed)[:HOURS]
    volumes[-hours_of_leak:] += 14
    return volumes


def _incidents(db, meter_id=None):
    return IncidentBatchRepository(db).incidents(None if meter_id is None else [meter_id])


class TestScanLifecycle:
    def test_a_leak_opens_one_incident_with_checkable_evidence(self, db, scan_fleet):
        meter = scan_fleet.meter()
        scan_fleet.readings(meter, start=START, hourly_l=_leaking(5 * 24))
        report = service.scan(db, default_country="PG", as_of=NOW)
        [incident] = _incidents(db, meter)
        assert (incident.kind, incident.status, incident.severity) == ("leak", "open", "warning")
        assert incident.started_at == local_midnight_utc(date(2026, 11, 20))
        assert incident.ended_at is None
        assert incident.evidence["nights"] == 5
        assert incident.evidence["night_min_lph"] == [14.0] * 5
        assert report.opened == 1

    def test_rerunning_the_scan_adds_and_changes_nothing(self, db, scan_fleet):
        meter = scan_fleet.meter()
        scan_fleet.readings(meter, start=START, hourly_l=_leaking(5 * 24))
        service.scan(db, default_country="PG", as_of=NOW)
        before = _incidents(db)
        again = service.scan(db, default_country="PG", as_of=NOW, meter_ids=[meter])
        assert (again.opened, again.updated, again.resolved) == (0, 0, 0)
        assert _incidents(db) == before

    def test_new_data_updates_the_open_incident_and_repair_resolves_it(self, db, scan_fleet):
        meter = scan_fleet.meter()
        last = scan_fleet.readings(meter, start=START, hourly_l=_leaking(5 * 24))
        service.scan(db, default_country="PG", as_of=NOW)
        # Continue from 20:00 local: leaking until midnight on 25 Nov, then the plumber came.
        later = household(4, seed=9)[20 : 20 + 72]
        later[:28] += 14
        day1 = NOW.replace(minute=0) + timedelta(days=1)
        scan_fleet.readings(
            meter, start=NOW.replace(minute=0), hourly_l=later[:24], start_index=last, resume=True
        )
        update = service.scan(db, default_country="PG", as_of=day1 + timedelta(minutes=30))
        [incident] = _incidents(db, meter)
        assert incident.status == "open"
        assert incident.evidence["nights"] == 6
        assert update.updated == 1
        scan_fleet.readings(
            meter,
            start=day1,
            hourly_l=later[24:],
            start_index=last + int(later[:24].sum()),
            resume=True,
        )
        repair = service.scan(db, default_country="PG", as_of=day1 + timedelta(days=2, minutes=30))
        [incident] = _incidents(db, meter)
        assert incident.status == "resolved"
        # Local 25 Nov was the last leaking day (its night); 26 Nov had a dry night.
        assert incident.ended_at == local_midnight_utc(date(2026, 11, 26))
        assert repair.resolved + repair.updated >= 1

    def test_a_meter_stuck_for_weeks_stays_open(self, db, scan_fleet):
        meter = scan_fleet.meter()
        volumes = household(44, seed=6)[:HOURS]
        volumes[-14 * 24 :] = 0
        last = scan_fleet.readings(meter, start=START, hourly_l=volumes)
        service.scan(db, default_country="PG", as_of=NOW)
        [stuck] = _incidents(db, meter)
        assert (stuck.kind, stuck.status) == ("stuck", "open")
        # Five more frozen weeks: the learning window is now all zeros.
        scan_fleet.readings(
            meter,
            start=NOW.replace(minute=0),
            hourly_l=np.zeros(35 * 24),
            start_index=last,
            resume=True,
        )
        service.scan(db, default_country="PG", as_of=NOW + timedelta(days=35))
        [stuck] = _incidents(db, meter)
        assert stuck.status == "open"
        assert stuck.evidence["frozen_days"] >= 14

    def test_vacancy_and_holidays_raise_nothing(self, db, scan_fleet):
        vacant = scan_fleet.meter(occupancy="vacant", occupants=None)
        scan_fleet.readings(vacant, start=START, hourly_l=np.zeros(HOURS))
        away = scan_fleet.meter()
        volumes = household(44, seed=2)[:HOURS]
        volumes[-7 * 24 :] = 0
        scan_fleet.readings(away, start=START, hourly_l=volumes)
        service.scan(db, default_country="PG", as_of=NOW)
        assert _incidents(db) == []

    def test_a_silent_meter_opens_an_incident_that_data_closes(self, db, scan_fleet):
        meter = scan_fleet.meter()
        volumes = household(44, seed=4)[: HOURS - 48]
        last = scan_fleet.readings(meter, start=START, hourly_l=volumes)
        service.scan(db, default_country="PG", as_of=NOW)
        [silent] = _incidents(db, meter)
        assert (silent.kind, silent.status) == ("silent", "open")
        assert silent.evidence["allowed_s"] == 6 * 3600
        gap_start = START + timedelta(hours=HOURS - 48)
        scan_fleet.readings(
            meter,
            start=gap_start,
            hourly_l=household(2, seed=5),
            start_index=last,
            resume=True,
            received_at=NOW + timedelta(minutes=5),
        )
        service.scan(db, default_country="PG", as_of=NOW + timedelta(minutes=10))
        [silent] = _incidents(db, meter)
        assert silent.status == "resolved"
        assert silent.ended_at == NOW + timedelta(minutes=10)

    def test_a_fleet_replaying_history_or_just_registered_is_not_silent(self, db, scan_fleet):
        replaying = scan_fleet.meter()
        scan_fleet.readings(
            replaying,
            start=NOW - timedelta(days=30),
            hourly_l=household(24, seed=6),
            received_at=NOW - timedelta(minutes=1),
        )
        registered = scan_fleet.meter(installed_at=NOW - timedelta(days=60))
        db.execute(
            "UPDATE meter SET created_at = %s WHERE id = %s",
            (NOW - timedelta(minutes=5), registered),
        )

        def silent() -> list[int]:
            return sorted(i.meter_id for i in _incidents(db) if i.kind == "silent")

        service.scan(db, default_country="PG", as_of=NOW)
        assert silent() == []
        # Nothing heard from either for seven hours: now both are silent.
        service.scan(db, default_country="PG", as_of=NOW + timedelta(hours=7))
        assert silent() == sorted([replaying, registered])

    def test_a_tamper_alarm_opens_a_critical_incident_and_holds_billing(self, db, scan_fleet):
        meter, other = scan_fleet.meter(), scan_fleet.meter()
        alarms = [0] * (HOURS + 1)
        alarms[-3:] = [Alarm.TAMPER] * 3
        scan_fleet.readings(meter, start=START, hourly_l=household(44)[:HOURS], alarms=alarms)
        scan_fleet.readings(other, start=START, hourly_l=household(44, seed=1)[:HOURS])
        service.scan(db, default_country="PG", as_of=NOW)
        [tamper] = _incidents(db, meter)
        assert (tamper.kind, tamper.severity, tamper.status) == ("tamper", "critical", "open")
        # The one rule billing close holds by (the view ``tamper_hold``) sees it, still going.
        held = db.execute(
            "SELECT meter_id, ended_at FROM tamper_hold WHERE meter_id = ANY(%s)", ([meter, other],)
        ).fetchall()
        assert held == [(meter, None)]

    def test_backflow_is_found_in_the_raw_readings(self, db, scan_fleet):
        meter = scan_fleet.meter()
        flows: list[float | None] = [None] * (HOURS + 1)
        flows[-5] = -40.0
        scan_fleet.readings(meter, start=START, hourly_l=household(44)[:HOURS], flows=flows)
        service.scan(db, default_country="PG", as_of=NOW)
        [backflow] = _incidents(db, meter)
        assert backflow.kind == "backflow"
        assert backflow.status == "resolved"
        assert backflow.evidence["lowest_flow_lph"] == -40

    def test_events_between_missed_scans_are_judged(self, db, scan_fleet):
        """A scheduler outage: the scan before ran 6 days ago; the backflow 5 days ago and the
        tamper 4 days ago (both over) are found by the next scan all the same."""
        meter = scan_fleet.meter()
        flows: list[float | None] = [None] * (HOURS + 1)
        flows[-5 * 24] = -40.0
        alarms = [0] * (HOURS + 1)
        alarms[-4 * 24 : -4 * 24 + 3] = [Alarm.TAMPER] * 3
        scan_fleet.readings(
            meter, start=START, hourly_l=household(44)[:HOURS], flows=flows, alarms=alarms
        )
        ScanRepository(db).set_watermarks(
            WHOLE, dict.fromkeys(service.DETECTORS, NOW - timedelta(days=6))
        )
        service.scan(db, default_country="PG", as_of=NOW)
        found = {i.kind: i.status for i in _incidents(db, meter)}
        assert found == {"backflow": "resolved", "tamper": "resolved"}

    def test_a_first_scan_after_a_backfill_judges_the_backfilled_readings(self, db, scan_fleet):
        meter = scan_fleet.meter()
        flows: list[float | None] = [None] * (HOURS + 1)
        flows[-20 * 24] = -40.0
        scan_fleet.readings(meter, start=START, hourly_l=household(44)[:HOURS], flows=flows)
        service.scan(db, default_country="PG", as_of=NOW)
        assert [i.kind for i in _incidents(db, meter)] == ["backflow"]

    def test_the_database_allows_one_live_incident_per_meter_and_kind(self, db, scan_fleet):
        meter = scan_fleet.meter()
        insert = (
            "INSERT INTO incident (meter_id, kind, severity, status, started_at, last_seen_at)"
            " VALUES (%s, 'leak', 'warning', %s, now(), now())"
        )
        db.execute(insert, (meter, "open"))
        db.execute(insert, (meter, "resolved"))
        with pytest.raises(psycopg.errors.UniqueViolation):
            db.execute(insert, (meter, "acknowledged"))


class TestIncrementalScan:
    def test_only_meters_with_new_data_are_read_again(self, db, scan_fleet):
        first, second = scan_fleet.meter(), scan_fleet.meter()
        last = scan_fleet.readings(first, start=START, hourly_l=household(44)[:HOURS])
        scan_fleet.readings(second, start=START, hourly_l=household(44, seed=1)[:HOURS])
        assert service.scan(db, default_country="PG", as_of=NOW).meters == 2
        assert service.scan(db, default_country="PG", as_of=NOW + timedelta(minutes=30)).meters == 0
        scan_fleet.readings(
            first,
            start=NOW.replace(minute=0),
            hourly_l=[5.0],
            start_index=last,
            resume=True,
            received_at=NOW + timedelta(minutes=45),
        )
        assert service.scan(db, default_country="PG", as_of=NOW + timedelta(hours=1)).meters == 1
        assert ScanRepository(db).watermarks(WHOLE) == dict.fromkeys(
            service.DETECTORS, NOW + timedelta(hours=1)
        )

    def test_since_overrides_the_watermark(self, db, scan_fleet):
        meter = scan_fleet.meter()
        scan_fleet.readings(meter, start=START, hourly_l=household(44)[:HOURS])
        service.scan(db, default_country="PG", as_of=NOW)
        assert (
            service.scan(db, default_country="PG", as_of=NOW, since=NOW - timedelta(days=1)).meters
            == 1
        )


class TestAbnormalConsumption:
    def test_a_dwelling_far_above_its_history_and_its_peers_is_flagged(self, db, scan_fleet):
        volumes, _ = daily_fleet(40, 42, seed=3)
        first_day = NOW.date() - timedelta(days=42)
        meters = [scan_fleet.meter() for _ in range(40)]
        for meter, series in zip(meters, volumes, strict=True):
            scan_fleet.daily(meter, first_day=first_day, volumes=np.maximum(series, 1))
        target = scan_fleet.meter()
        daily = np.full(42, 350.0)
        daily[-3:-1] = 3000
        scan_fleet.daily(target, first_day=first_day, volumes=daily)
        service.scan(db, default_country="PG", as_of=NOW, meter_ids=[*meters, target])
        abnormal = [i for i in _incidents(db) if i.kind == "abnormal"]
        assert [i.meter_id for i in abnormal] == [target]
        assert abnormal[0].evidence["daily_l"] == [3000, 3000]
        assert abnormal[0].started_at == local_midnight_utc(date(2026, 11, 21))
        assert abnormal[0].ended_at == local_midnight_utc(date(2026, 11, 23))

    def test_a_family_coming_home_is_not_abnormal(self, db, scan_fleet):
        """Absent days are left out of the usual day: after 20 days away (more than half of the
        history) the usual day is the family's, not zero, so ordinary use is ordinary."""
        volumes, _ = daily_fleet(40, 42, seed=3)
        first_day = NOW.date() - timedelta(days=42)
        meters = [scan_fleet.meter() for _ in range(40)]
        for meter, series in zip(meters, volumes, strict=True):
            scan_fleet.daily(meter, first_day=first_day, volumes=np.maximum(series, 1))
        home = scan_fleet.meter()
        daily = np.full(42, 1000.0)
        daily[8:28] = 0
        # Back home: a day of laundry, then the family's ordinary days.
        daily[28:30] = 2200
        scan_fleet.daily(home, first_day=first_day, volumes=daily)
        service.scan(db, default_country="PG", as_of=NOW, meter_ids=[*meters, home])
        assert [i for i in _incidents(db, home) if i.kind == "abnormal"] == []
