"""GET /telemetry/history: readings and volumes of a scope per step, checked against the rollups."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests import clock
from tests.analytics.conftest import Fleet

pytestmark = pytest.mark.services

T0 = datetime(2026, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
PORT_MORESBY = ZoneInfo("Pacific/Port_Moresby")


@pytest.fixture
def fleet(db):
    return Fleet(db)


def hourly(start: datetime, hours: int, litres: int = 10) -> list[tuple[datetime, int]]:
    return [(start + i * HOUR, i * litres) for i in range(hours + 1)]


def zone_of(db, meter_id: int) -> tuple[int, int]:
    row = db.execute(
        "SELECT b.zone_id, b.id FROM meter m JOIN dwelling d ON d.id = m.dwelling_id"
        " JOIN building b ON b.id = d.building_id WHERE m.id = %s",
        [meter_id],
    ).fetchone()
    return row[0], row[1]


class TestCustomWindow:
    async def test_days_of_the_fleet_and_of_one_zone_sum_the_daily_rollups(
        self, admin_client, fleet, db
    ):
        first = fleet.meter(installed_at=T0 - HOUR)
        second = fleet.meter(installed_at=T0 - HOUR)
        fleet.readings(first, hourly(T0, 8 * 24, litres=10))
        fleet.readings(second, hourly(T0, 8 * 24, litres=25))
        fleet.refresh()
        zone_id, _ = zone_of(db, first)

        fleet_days = await admin_client.get(
            "/telemetry/history",
            params={"window": "custom", "start": "2026-03-02", "end": "2026-03-06"},
        )
        zone_days = await admin_client.get(
            "/telemetry/history",
            params={
                "window": "custom",
                "start": "2026-03-02",
                "end": "2026-03-06",
                "zone_id": zone_id,
            },
        )

        assert fleet_days.status_code == 200, fleet_days.text
        body = fleet_days.json()
        assert (body["scope"], body["step"], body["timezone"]) == (
            "fleet",
            "day",
            "Pacific/Port_Moresby",
        )
        expected = db.execute(
            "SELECT day, sum(volume_l), sum(reading_count) FROM meter_daily"
            " WHERE day BETWEEN '2026-03-02' AND '2026-03-06' GROUP BY day ORDER BY day"
        ).fetchall()
        assert [
            (p["local_date"], p["volume_l"], p["readings"], p["meters"]) for p in body["points"]
        ] == [(day.isoformat(), volume, readings, 2) for day, volume, readings in expected]
        assert [p["volume_l"] for p in body["points"]] == [35 * 24] * 5
        assert body["total_volume_l"] == 35 * 24 * 5
        assert [p["volume_l"] for p in zone_days.json()["points"]] == [10 * 24] * 5
        assert zone_days.json()["scope"] == "zone"

    async def test_up_to_three_days_go_by_the_hour(self, admin_client, fleet, db):
        meter = fleet.meter(installed_at=T0 - HOUR)
        fleet.readings(meter, hourly(T0, 5 * 24))
        fleet.refresh()
        _, building_id = zone_of(db, meter)

        response = await admin_client.get(
            "/telemetry/history",
            params={
                "window": "custom",
                "start": "2026-03-02",
                "end": "2026-03-04",
                "building_id": building_id,
            },
        )

        body = response.json()
        assert body["step"] == "hour"
        assert len(body["points"]) == 72
        local_start = datetime(2026, 3, 2, tzinfo=PORT_MORESBY)
        assert datetime.fromisoformat(body["points"][0]["start"]) == local_start
        assert body["total_volume_l"] == 72 * 10


class TestRollingWindows:
    async def test_thirty_days_end_today_in_the_scopes_time_zone(self, admin_client, fleet, db):
        meter = fleet.meter(installed_at=clock.now() - timedelta(days=45))
        fleet.readings(meter, hourly(clock.now() - timedelta(days=40), 40 * 24))
        fleet.refresh()

        response = await admin_client.get(
            "/telemetry/history", params={"window": "30d", "meter_id": meter}
        )

        body = response.json()
        today = clock.today_in("Pacific/Port_Moresby")
        days = db.execute(
            "SELECT day, volume_l FROM meter_daily WHERE meter_id = %s AND day BETWEEN %s AND %s"
            " ORDER BY day",
            [meter, today - timedelta(days=29), today],
        ).fetchall()
        assert body["step"] == "day"
        assert [
            (date.fromisoformat(p["local_date"]), p["volume_l"]) for p in body["points"]
        ] == days
        assert len(days) >= 29

    async def test_the_last_day_goes_by_the_hour(self, admin_client, fleet):
        meter = fleet.meter(installed_at=clock.now() - timedelta(days=3))
        fleet.readings(meter, hourly(clock.now() - timedelta(days=2), 2 * 24))
        fleet.refresh()

        body = (await admin_client.get("/telemetry/history", params={"window": "day"})).json()

        assert body["step"] == "hour"
        assert 23 <= len(body["points"]) <= 25
        assert all(p["meters"] == 1 for p in body["points"])

    async def test_the_last_hour_counts_readings_by_the_minute_without_volumes(
        self, admin_client, fleet
    ):
        meter = fleet.meter(installed_at=clock.now() - timedelta(days=1))
        now = clock.now().replace(second=0, microsecond=0)
        fleet.readings(meter, [(now - timedelta(minutes=m), 1000 - m) for m in (50, 20, 5)])

        body = (await admin_client.get("/telemetry/history", params={"window": "hour"})).json()

        assert body["step"] == "minute"
        assert [p["readings"] for p in body["points"]] == [1, 1, 1]
        assert body["total_readings"] == 3
        assert body["total_volume_l"] is None
        assert all(p["volume_l"] is None for p in body["points"])


class TestErrors:
    @pytest.mark.parametrize(
        ("params", "detail"),
        [
            ({"window": "custom", "start": "2026-03-02"}, "needs both start and end"),
            ({"window": "custom", "start": "2026-03-05", "end": "2026-03-02"}, "must not be"),
            ({"window": "custom", "start": "2025-01-01", "end": "2026-03-02"}, "at most 366"),
            ({"window": "day", "start": "2026-03-02"}, "window=custom only"),
            ({"zone_id": 1, "meter_id": 1}, "at most one of"),
        ],
    )
    async def test_bad_windows_are_422_with_the_reason(self, admin_client, params, detail):
        response = await admin_client.get("/telemetry/history", params=params)
        assert response.status_code == 422
        assert response.json()["error"] == "InvalidWindow"
        assert detail in response.json()["detail"]

    async def test_an_unknown_zone_is_404(self, admin_client):
        response = await admin_client.get("/telemetry/history", params={"zone_id": 999_999})
        assert response.status_code == 404
        assert response.json()["error"] == "ScopeNotFound"

    async def test_customers_may_not_read_it(self, client):
        assert (await client.get("/telemetry/history")).status_code == 401
