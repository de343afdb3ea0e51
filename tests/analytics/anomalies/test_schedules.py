"""The same fleet scanned daily, every third day (a scheduler outage) or once after the whole
backfill finds the same incidents: each detector judges everything since its watermark, and a
silence that opened and closed between two scans is read from the reading history."""

from datetime import date, timedelta

import numpy as np
import pytest

from analytics.anomalies import service
from analytics.incidents.repository import IncidentBatchRepository
from core.config_analytics import AnalyticsSettings
from tests.analytics.arrange import TZ_OFFSET, ScanFleet, local_midnight_utc
from tests.analytics.synthetic import household
from wire.alarms import Alarm

pytestmark = pytest.mark.services

FIRST_DAY = date(2026, 9, 1)
START = local_midnight_utc(FIRST_DAY)
DAYS = 60
# Scans at 02:00 local, the last one two hours after the last reading.
SCAN_HOUR = timedelta(hours=2)
BACKFLOW_DAY, TAMPER_DAY, SILENCE_DAY, LEAK_DAY, BURST_DAY = 20, 33, 40, 45, 50


def _hour(day: int, hour: int) -> int:
    return day * 24 + hour


def arrange(scan_fleet: ScanFleet) -> set[tuple[str, int, date]]:
    """Six dwellings of one zone, hourly readings over 60 days; five carry one episode each.
    Returns the episodes as (kind, meter, local start day)."""
    hours = DAYS * 24

    def volumes(seed: int) -> np.ndarray:
        return household(DAYS, seed=seed)[:hours]

    clean, backflow, tamper, silent, leak, burst = (scan_fleet.meter() for _ in range(6))
    scan_fleet.readings(clean, start=START, hourly_l=volumes(0).tolist())

    flows: list[float | None] = [None] * (hours + 1)
    flows[_hour(BACKFLOW_DAY, 14)] = -40.0
    scan_fleet.readings(backflow, start=START, hourly_l=volumes(1).tolist(), flows=flows)

    alarms = [0] * (hours + 1)
    alarms[_hour(TAMPER_DAY, 2) : _hour(TAMPER_DAY, 5)] = [Alarm.TAMPER] * 3
    scan_fleet.readings(tamper, start=START, hourly_l=volumes(2).tolist(), alarms=alarms)

    # No reading from 10:00 local on day 40 to 16:00 the next day (30 hours), then the meter
    # reports again: between two scans three days apart, or long before a backfill's scan.
    series = volumes(3)
    quiet_from, quiet_to = _hour(SILENCE_DAY, 10), _hour(SILENCE_DAY + 1, 16)
    last = scan_fleet.readings(silent, start=START, hourly_l=series[:quiet_from].tolist())
    scan_fleet.readings(
        silent,
        start=START + timedelta(hours=quiet_to),
        hourly_l=series[quiet_to:].tolist(),
        start_index=last + int(series[quiet_from:quiet_to].sum()),
    )

    leaking = volumes(4)
    leaking[_hour(LEAK_DAY, 0) : _hour(LEAK_DAY + 7, 0)] += 14
    scan_fleet.readings(leak, start=START, hourly_l=leaking.tolist())

    bursting = volumes(5)
    bursting[_hour(BURST_DAY, 10) : _hour(BURST_DAY, 13)] = 600
    scan_fleet.readings(burst, start=START, hourly_l=bursting.tolist())

    def day(offset: int) -> date:
        return FIRST_DAY + timedelta(days=offset)

    return {
        ("backflow", backflow, day(BACKFLOW_DAY)),
        ("tamper", tamper, day(TAMPER_DAY)),
        ("silent", silent, day(SILENCE_DAY)),
        ("leak", leak, day(LEAK_DAY)),
        ("burst", burst, day(BURST_DAY)),
    }


def found(db) -> set[tuple[str, int, date]]:
    return {
        (i.kind, i.meter_id, (i.started_at + TZ_OFFSET).date())
        for i in IncidentBatchRepository(db).incidents()
    }


SCHEDULES = {
    "daily": list(range(1, DAYS + 1)),
    "every-3rd-day": [*range(3, DAYS, 3), DAYS],
    "once-after-the-backfill": [DAYS],
}


class TestScanSchedules:
    @pytest.mark.parametrize("partitions", [1, 2], ids=["one-partition", "two-partitions"])
    @pytest.mark.parametrize("days", SCHEDULES.values(), ids=SCHEDULES.keys())
    def test_every_schedule_finds_each_episode_once_on_its_day(
        self, db, scan_fleet, days, partitions
    ):
        episodes = arrange(scan_fleet)
        options = AnalyticsSettings(partitions=partitions)
        for day in days:
            as_of = START + timedelta(days=day) + SCAN_HOUR
            service.scan(db, as_of=as_of, default_country="PG", options=options)
        assert found(db) == episodes
        incidents = IncidentBatchRepository(db).incidents()
        assert len(incidents) == len(episodes)
        assert {i.status for i in incidents} == {"resolved"}

    def test_a_rescan_of_the_whole_span_changes_nothing(self, db, scan_fleet):
        arrange(scan_fleet)
        as_of = START + timedelta(days=DAYS) + SCAN_HOUR
        service.scan(db, as_of=as_of, default_country="PG")
        before = IncidentBatchRepository(db).incidents()
        again = service.scan(db, as_of=as_of, default_country="PG", since=START)
        assert (again.opened, again.updated, again.resolved) == (0, 0, 0)
        assert IncidentBatchRepository(db).incidents() == before
