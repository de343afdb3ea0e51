from datetime import timedelta

import numpy as np
import pytest

from analytics.anomalies.exceptions import UnknownMeters
from analytics.forecast import service
from analytics.forecast.exceptions import NotEnoughHistory
from tests.analytics.arrange import NOW

pytestmark = pytest.mark.services


class TestForecast:
    def test_thirty_days_with_an_interval_from_the_daily_rollups(self, db, scan_fleet):
        meter = scan_fleet.meter()
        first_day = NOW.date() - timedelta(days=84)
        weekday = np.arange(84) % 7  # daily() days: 84 days before a Tuesday is a Tuesday
        shape = np.where(np.isin((weekday + 1) % 7, [5, 6]), 600.0, 400.0)
        scan_fleet.daily(meter, first_day=first_day, volumes=shape)
        result = service.forecast(db, meter_id=meter, today=NOW.date())
        assert len(result.expected_l) == 30
        assert result.first_day == NOW.date()
        saturday = 4  # 24 Nov 2026 is a Tuesday: +4 days
        assert result.expected_l[saturday] > result.expected_l[0]
        assert all(
            lo <= mid <= hi
            for lo, mid, hi in zip(result.lower_l, result.expected_l, result.upper_l, strict=True)
        )
        assert 30 * 400 < result.total_l < 30 * 600

    def test_a_meter_without_history_is_refused_with_the_reason(self, db, scan_fleet):
        meter = scan_fleet.meter()
        with pytest.raises(NotEnoughHistory, match="has 0 days"):
            service.forecast(db, meter_id=meter, today=NOW.date())

    def test_an_unknown_meter_is_named(self, db):
        with pytest.raises(UnknownMeters, match="no meter with id 99"):
            service.forecast(db, meter_id=99, today=NOW.date())
