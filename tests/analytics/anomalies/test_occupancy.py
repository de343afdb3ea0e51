"""The scan and occupancy: absent and vacant days stay out of baselines, and zero use is
nothing during a declared absence, a field task (no customer SMS) otherwise."""

from datetime import date, timedelta

import numpy as np
import pytest

from analytics.alerts.service import claim_alerts
from analytics.anomalies import service
from analytics.forecast.synthetic import daily_fleet
from analytics.incidents.repository import IncidentBatchRepository
from core.config_analytics import AnalyticsSettings
from tests.analytics.anomalies.test_service import HOURS, START
from tests.analytics.arrange import NOW
from tests.analytics.synthetic import household

pytestmark = pytest.mark.services

DAYS = 42
FIRST_DAY = NOW.date() - timedelta(days=DAYS)


def _incidents(db, meter_id, kind=None):
    found = IncidentBatchRepository(db).incidents([meter_id])
    return [i for i in found if kind is None or i.kind == kind]


def _declare(db, meter_id: int, from_date: date, to_date: date) -> None:
    user = db.execute(
        "INSERT INTO app_user (phone, first_name, last_name, language, role, is_active,"
        " password_hash) VALUES (%s, 'Ana', 'Away', 'en', 'customer', true, 'x') RETURNING id",
        [f"+67570{meter_id:06d}"],
    ).fetchone()[0]
    db.execute(
        "INSERT INTO dwelling_absence (dwelling_id, from_date, to_date, source, declared_by)"
        " SELECT dwelling_id, %s, %s, 'sms', %s FROM meter WHERE id = %s",
        [from_date, to_date, user, meter_id],
    )


@pytest.fixture
def peers(scan_fleet):
    """Forty ordinary dwellings of the same type: what "unusual among peers" is judged by."""
    volumes, _ = daily_fleet(40, DAYS, seed=3)
    meters = [scan_fleet.meter() for _ in range(40)]
    for meter, series in zip(meters, volumes, strict=True):
        scan_fleet.daily(meter, first_day=FIRST_DAY, volumes=np.maximum(series, 1))
    return meters


def _coming_home(level_while_away: float) -> np.ndarray:
    """A family using 1000 L/day, away for 18 days of the 28-day history, then home again."""
    daily = np.full(DAYS, 1000.0)
    daily[4:22] = level_while_away
    daily[28:30] = 2200  # back home: a day of laundry
    return daily


class TestBaselinesLeaveOutAwayDays:
    def test_a_step_down_to_garden_watering_is_an_inferred_vacancy(self, db, scan_fleet, peers):
        """60 L/day is above the absent-day floor (20 L) but a tenth of the family's day: with
        the floor alone (main's rule, step ratio 0) the usual day sinks to 60 L and coming home
        reads as 16x its usual day; the inferred vacancy keeps it out."""
        home = scan_fleet.meter()
        scan_fleet.daily(home, first_day=FIRST_DAY, volumes=_coming_home(60))
        floor_only = AnalyticsSettings(vacancy_step_ratio=0)
        service.scan(
            db, default_country="PG", as_of=NOW, meter_ids=[*peers, home], options=floor_only
        )
        assert len(_incidents(db, home, "abnormal")) == 1
        db.execute("DELETE FROM incident")
        service.scan(db, default_country="PG", as_of=NOW, meter_ids=[*peers, home])
        assert _incidents(db, home, "abnormal") == []

    def test_a_declared_absence_with_a_house_sitter_is_left_out(self, db, scan_fleet, peers):
        """150 L/day (someone watering and airing the house) is no vacancy by the data; the
        declared absence says it is."""
        home = scan_fleet.meter()
        scan_fleet.daily(home, first_day=FIRST_DAY, volumes=_coming_home(150))
        service.scan(db, default_country="PG", as_of=NOW, meter_ids=[*peers, home])
        assert len(_incidents(db, home, "abnormal")) == 1
        db.execute("DELETE FROM incident")
        _declare(db, home, FIRST_DAY + timedelta(days=4), FIRST_DAY + timedelta(days=21))
        service.scan(db, default_country="PG", as_of=NOW, meter_ids=[*peers, home])
        assert _incidents(db, home, "abnormal") == []

    def test_a_fortnight_away_then_ordinary_use_opens_nothing(self, db, scan_fleet, peers):
        """Hourly readings and daily rollups of a 14-day vacancy, then the family's ordinary days
        (the labelled fleet's false "253x its usual 0 L/day")."""
        home = scan_fleet.meter()
        volumes = household(44, seed=8)[:HOURS]
        away_from = len(volumes) - 24 * 20
        volumes[away_from : away_from + 14 * 24] = 0
        scan_fleet.readings(home, start=START, hourly_l=volumes)
        daily = np.full(DAYS, float(volumes[:24].sum()))
        daily[-20:-6] = 0
        scan_fleet.daily(home, first_day=FIRST_DAY, volumes=daily)
        service.scan(db, default_country="PG", as_of=NOW, meter_ids=[*peers, home])
        assert [i.kind for i in _incidents(db, home) if i.kind in ("abnormal", "burst")] == []


class TestZeroConsumption:
    def _frozen_fortnight(self, scan_fleet) -> int:
        meter = scan_fleet.meter()
        volumes = household(44, seed=6)[:HOURS]
        volumes[-14 * 24 :] = 0
        scan_fleet.readings(meter, start=START, hourly_l=volumes)
        return int(meter)

    def test_undeclared_it_is_a_field_task_never_a_customer_alert(self, db, scan_fleet):
        meter = self._frozen_fortnight(scan_fleet)
        service.scan(db, default_country="PG", as_of=NOW)
        [stuck] = _incidents(db, meter)
        assert (stuck.kind, stuck.severity) == ("stuck", "info")
        assert "check it on the round" in stuck.evidence["summary"]
        # Confirmed (a day later) it is still no customer SMS: alerts need warning or critical.
        assert claim_alerts(db, now=NOW + timedelta(days=1)) == []

    def test_during_a_declared_absence_it_is_nothing(self, db, scan_fleet):
        meter = self._frozen_fortnight(scan_fleet)
        local_today = (NOW + timedelta(hours=10)).date()
        _declare(db, meter, local_today - timedelta(days=15), local_today + timedelta(days=3))
        service.scan(db, default_country="PG", as_of=NOW)
        assert _incidents(db, meter) == []
