from datetime import timedelta

import pytest

from analytics.alerts import service
from tests.analytics.arrange import NOW

pytestmark = pytest.mark.services


class TestClaimAlerts:
    def test_confirmed_incidents_are_claimed_once_and_info_never(self, db, scan_fleet):
        meter, quiet = scan_fleet.meter(), scan_fleet.meter()
        insert = (
            "INSERT INTO incident (meter_id, kind, severity, started_at, last_seen_at, opened_at)"
            " VALUES (%s, %s, %s, %s, %s, %s)"
        )
        db.execute(insert, (meter, "leak", "warning", NOW, NOW, NOW - timedelta(hours=2)))
        db.execute(insert, (meter, "low_battery", "info", NOW, NOW, NOW - timedelta(hours=2)))
        db.execute(insert, (quiet, "burst", "critical", NOW, NOW, NOW - timedelta(minutes=5)))
        [claimed] = service.claim_alerts(db, now=NOW)
        assert (claimed.meter_id, claimed.kind) == (meter, "leak")
        assert service.claim_alerts(db, now=NOW) == []
        [later] = service.claim_alerts(db, now=NOW + timedelta(hours=1))
        assert later.kind == "burst"
