"""The meter's local time zone is one rule, the SQL function ``meter_timezone``: a meter without
a dwelling in a UTC+10 deployment gets local nights and local days, and every consumer reads the
same zone for the same meter."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from analytics.anomalies import service
from analytics.anomalies.features import NIGHT_HOURS
from analytics.anomalies.repository import ScanRepository
from analytics.incidents.repository import IncidentBatchRepository
from analytics.rollups.repository import RollupRepository
from analytics.telemetry.repository import TelemetryRepository
from analytics.vee.repository import VeeRepository
from billing.close.repository import CloseRepository
from ingest.field.repository import FieldRepository
from tests.analytics.arrange import NOW, local_midnight_utc

pytestmark = pytest.mark.services

# Port Moresby, UTC+10: local night (01-05 h) is 15-19 h UTC; UTC night is local midday.
DEPLOYMENT = "PG"
START = local_midnight_utc(date(2026, 10, 12))
HOURS = int((NOW.replace(minute=0) - START).total_seconds() // 3600)
T0 = datetime(2026, 3, 1, tzinfo=UTC)  # 10:00 in Port Moresby


def _flow_at(local_hours: tuple[int, ...], *, nights: int = 5) -> np.ndarray:
    """20 L/h all the time (the meter's baseline), 14 L/h more in the given local hours of the
    last ``nights`` days (the hourly series starts at local midnight)."""
    volumes = np.full(HOURS, 20.0)
    for hour in range(HOURS - nights * 24, HOURS):
        if hour % 24 in local_hours:
            volumes[hour] += 14
    return volumes


def _scan_after_daily_scans(db):
    """The scan of the last day, earlier days judged already: the meter's first nights (20 L/h
    with no history yet) would be a leak to a first scan, as to the first daily scans."""
    service.scan(db, as_of=NOW, default_country=DEPLOYMENT, since=NOW - timedelta(days=1))


def _leaks(db, meter):
    return [i for i in IncidentBatchRepository(db).incidents([meter]) if i.kind == "leak"]


class TestAMeterWithoutDwellingInUtcPlus10:
    def test_continuous_flow_at_local_night_is_a_leak(self, db, scan_fleet):
        meter = scan_fleet.meter(on_dwelling=False)
        scan_fleet.readings(meter, start=START, hourly_l=_flow_at(NIGHT_HOURS))
        _scan_after_daily_scans(db)
        [leak] = _leaks(db, meter)
        assert leak.evidence["night_min_lph"] == [34.0] * 5
        assert leak.started_at == local_midnight_utc(date(2026, 11, 20))

    def test_the_same_flow_at_utc_night_is_not_a_leak(self, db, scan_fleet):
        meter = scan_fleet.meter(on_dwelling=False)
        utc_night = tuple((h + 10) % 24 for h in NIGHT_HOURS)  # 11-15 h local
        scan_fleet.readings(meter, start=START, hourly_l=_flow_at(utc_night))
        _scan_after_daily_scans(db)
        assert _leaks(db, meter) == []

    def test_its_daily_rollups_are_local_days(self, fleet):
        meter = fleet.meter(installed_at=T0, country=None)
        fleet.readings(meter, [(T0 + timedelta(hours=h), 10 * h) for h in range(1, 73)])
        fleet.refresh(default_country=DEPLOYMENT)
        days = {row[0]: row[1:4] for row in fleet.daily(meter)}
        # Installed at 10:00 local on 1 March: 14 hours that day; 2 March is 24 local hours.
        assert days[date(2026, 3, 1)] == (140, 0, 140)
        assert days[date(2026, 3, 2)] == (240, 140, 380)


@pytest.fixture
def meters(fleet):
    """Meter id -> expected zone: no dwelling (the deployment's country), a zone with its own
    time zone, a zone that takes its country's."""
    return {
        fleet.meter(installed_at=T0, country=None): "Pacific/Port_Moresby",
        fleet.meter(
            installed_at=T0, country="PG", zone_timezone="Pacific/Bougainville"
        ): "Pacific/Bougainville",
        fleet.meter(installed_at=T0, country="CM"): "Africa/Douala",
    }


class TestEveryConsumerReadsTheSameZone:
    def test_the_rule(self, db, meters):
        rows = db.execute(
            "SELECT meter_id, timezone FROM meter_timezone(%s) WHERE meter_id = ANY(%s)",
            (DEPLOYMENT, list(meters)),
        ).fetchall()
        assert dict(rows) == meters

    def test_without_a_known_default_country_a_meter_without_dwelling_is_in_utc(self, db, fleet):
        meter = fleet.meter(installed_at=T0, country=None)
        rows = db.execute(
            "SELECT timezone FROM meter_timezone(NULL) WHERE meter_id = %s", (meter,)
        ).fetchall()
        assert rows == [("UTC",)]

    def test_the_scan(self, db, meters):
        contexts = ScanRepository(db).meter_contexts(list(meters), default_country=DEPLOYMENT)
        assert {c.meter_id: c.timezone for c in contexts} == meters

    def test_vee(self, db, meters):
        with db.transaction():
            VeeRepository(db).stage(
                list(meters),
                window_from=T0,
                now=T0,
                received_after=T0,
                usual_from=T0,
                default_country=DEPLOYMENT,
            )
            rows = db.execute("SELECT meter_id, tz FROM vee_meter").fetchall()
        assert dict(rows) == meters

    def test_rollups(self, db, fleet, meters):
        for meter in meters:
            fleet.readings(meter, [(T0 + timedelta(hours=1), 10)])
        with db.transaction():
            RollupRepository(db).claim(limit=10, default_country=DEPLOYMENT, work_mem="4MB")
            rows = db.execute("SELECT meter_id, tz FROM rollup_plan").fetchall()
        assert dict(rows) == meters

    async def test_telemetry_and_the_invoice_estimate(self, session, meters):
        repository = TelemetryRepository(session)
        found = {
            meter: await repository.meter_timezone(meter_id=meter, default_country=DEPLOYMENT)
            for meter in meters
        }
        assert found == meters

    async def test_field_rounds(self, session, meters):
        rows = await FieldRepository(session).round_rows(
            meter_ids=list(meters),
            default_country=DEPLOYMENT,
            silent_hours=24,
            due_days=30,
            limit=10,
        )
        assert {r.id: r.timezone for r in rows} == meters

    async def test_billing_close_cuts_periods_at_local_midnight(self, session, meters):
        boundaries = await CloseRepository(session).meters(
            start=date(2026, 4, 1), end=date(2026, 4, 30), zone_ids=None
        )
        opening = {b.meter_id: b.opening_at for b in boundaries}
        on_dwellings = {m: zone for m, zone in meters.items() if zone != "Pacific/Port_Moresby"}
        assert opening == {
            m: datetime(2026, 4, 1, tzinfo=ZoneInfo(zone)) for m, zone in on_dwellings.items()
        }
