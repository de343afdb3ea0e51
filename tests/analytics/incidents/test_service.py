"""A person's close against the scan: the same episode never reopens what someone closed."""

from datetime import date

import pytest

from analytics.anomalies import service
from analytics.incidents import service as incidents
from analytics.incidents.repository import IncidentBatchRepository
from tests.analytics.arrange import NOW, local_midnight_utc
from tests.analytics.synthetic import household

pytestmark = pytest.mark.services

START = local_midnight_utc(date(2026, 10, 12))
HOURS = int((NOW.replace(minute=0) - START).total_seconds() // 3600)


class TestCloseAgainstTheScan:
    async def test_a_leak_closed_while_ongoing_stays_closed_and_single(
        self, db, scan_fleet, session
    ):
        meter = scan_fleet.meter()
        volumes = household(44, seed=0)[:HOURS]
        volumes[-5 * 24 :] += 14
        scan_fleet.readings(meter, start=START, hourly_l=volumes)
        service.scan(db, default_country="PG", as_of=NOW)
        [opened] = IncidentBatchRepository(db).incidents([meter])
        assert opened.status == "open"

        closed = await incidents.close(
            session,
            incident_id=opened.id,
            reach=None,
            actor_id=1,
            ip=None,
            note="tenant repairs it herself",
            now=NOW,
        )
        await session.commit()
        assert closed.incident.ended_at == NOW

        report = service.scan(db, default_country="PG", as_of=NOW, meter_ids=[meter])
        assert report.opened == 0
        [after] = IncidentBatchRepository(db).incidents([meter])
        assert (after.id, after.status) == (opened.id, "closed")
