import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from api.app import create_app
from core.config import TelemetrySettings
from tests import clock
from tests.analytics.conftest import Fleet

pytestmark = pytest.mark.services

T0 = datetime(2026, 3, 2, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def fleet(db):
    return Fleet(db)


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


class TestMeterReadings:
    async def test_newest_first_within_the_range(self, admin_client, fleet):
        meter = fleet.meter(installed_at=T0)
        fleet.readings(meter, [(T0 + i * HOUR, 10 * i) for i in range(1, 11)])
        fleet.readings(meter, [(T0 + 5 * HOUR, 49, "estimated")])

        response = await admin_client.get(
            f"/meters/{meter}/readings",
            params={"start": iso(T0 + 3 * HOUR), "end": iso(T0 + 6 * HOUR)},
        )

        assert response.status_code == 200
        body = response.json()
        assert [(r["index_l"], r["source"]) for r in body["readings"]] == [
            (50, "iot"),
            (49, "estimated"),
            (40, "iot"),
            (30, "iot"),
        ]
        assert body["count"] == 4

    async def test_source_filter_and_limit(self, admin_client, fleet):
        meter = fleet.meter(installed_at=T0)
        fleet.readings(meter, [(T0 + i * HOUR, 10 * i) for i in range(1, 11)])
        fleet.readings(meter, [(T0 + 5 * HOUR, 49, "estimated")])

        only_estimates = await admin_client.get(
            f"/meters/{meter}/readings", params={"source": "estimated"}
        )
        latest_two = await admin_client.get(f"/meters/{meter}/readings", params={"limit": 2})

        assert [r["index_l"] for r in only_estimates.json()["readings"]] == [49]
        assert [r["index_l"] for r in latest_two.json()["readings"]] == [100, 90]

    async def test_unknown_meter_is_404(self, admin_client):
        response = await admin_client.get("/meters/999999/readings")
        assert response.status_code == 404
        assert response.json()["error"] == "MeterNotFound"

    async def test_reversed_range_is_422_with_the_reason(self, admin_client, fleet):
        meter = fleet.meter(installed_at=T0)
        response = await admin_client.get(
            f"/meters/{meter}/readings", params={"start": iso(T0 + HOUR), "end": iso(T0)}
        )
        assert response.status_code == 422
        assert response.json()["error"] == "InvalidTimeRange"
        assert "must be after start" in response.json()["detail"]

    async def test_times_without_offset_are_the_meters_local_time(self, admin_client, fleet):
        meter = fleet.meter(installed_at=T0, country="PG")  # UTC+10
        fleet.readings(meter, [(T0 + i * HOUR, 10 * i) for i in range(1, 11)])

        response = await admin_client.get(
            f"/meters/{meter}/readings",
            params={"start": "2026-03-02T15:00:00", "end": "2026-03-02T17:00"},
        )

        assert [r["index_l"] for r in response.json()["readings"]] == [60, 50]

    async def test_unknown_source_is_422(self, admin_client, fleet):
        meter = fleet.meter(installed_at=T0)
        response = await admin_client.get(f"/meters/{meter}/readings", params={"source": "guess"})
        assert response.status_code == 422


class TestMeterVolumes:
    async def test_hourly_volumes_carry_local_labels_and_the_time_zone(self, admin_client, fleet):
        meter = fleet.meter(installed_at=T0, country="CM")
        fleet.readings(meter, [(T0 + i * HOUR, 10 * i) for i in range(1, 7)])
        fleet.refresh()

        response = await admin_client.get(
            f"/meters/{meter}/volumes",
            params={"granularity": "hour", "start": iso(T0), "end": iso(T0 + 3 * HOUR)},
        )

        assert response.status_code == 200
        body = response.json()
        assert body["timezone"] == "Africa/Douala"
        assert [b["label"] for b in body["buckets"]] == [
            "2026-03-02T01:00+01:00",
            "2026-03-02T02:00+01:00",
            "2026-03-02T03:00+01:00",
        ]
        assert [b["volume_l"] for b in body["buckets"]] == [10, 10, 10]
        assert body["total_volume_l"] == 30
        assert body["stale_since"] is None

    async def test_queued_readings_are_announced_as_stale(self, admin_client, fleet):
        meter = fleet.meter(installed_at=T0)
        fleet.readings(meter, [(T0 + HOUR, 10)])
        fleet.refresh()
        fleet.readings(meter, [(T0 + 2 * HOUR, 20)])

        response = await admin_client.get(
            f"/meters/{meter}/volumes", params={"start": iso(T0), "end": iso(T0 + 3 * HOUR)}
        )

        body = response.json()
        assert body["stale_since"] == iso(T0 + 2 * HOUR)
        assert body["total_volume_l"] == 10

    async def test_daily_volumes_follow_local_days_across_dst(self, admin_client, fleet):
        paris = ZoneInfo("Europe/Paris")
        start = datetime(2026, 10, 24, tzinfo=paris).astimezone(UTC)
        meter = fleet.meter(installed_at=start, country="FR")
        fleet.readings(meter, [(start + i * HOUR, 5 * i) for i in range(1, 73)])
        fleet.refresh()

        response = await admin_client.get(
            f"/meters/{meter}/volumes",
            params={"granularity": "day", "start": iso(start), "end": iso(start + 72 * HOUR)},
        )

        body = response.json()
        assert body["timezone"] == "Europe/Paris"
        by_label = {b["label"]: b for b in body["buckets"]}
        assert list(by_label) == ["2026-10-24", "2026-10-25", "2026-10-26"]
        fall_back = by_label["2026-10-25"]
        duration = datetime.fromisoformat(fall_back["end"]) - datetime.fromisoformat(
            fall_back["start"]
        )
        assert duration == timedelta(hours=25)
        assert fall_back["volume_l"] == 5 * 25
        assert body["total_volume_l"] == sum(b["volume_l"] for b in body["buckets"])

    async def test_interpolated_buckets_are_marked_estimated(self, admin_client, fleet):
        meter = fleet.meter(installed_at=T0)
        fleet.readings(meter, [(T0 + 90 * timedelta(minutes=1), 30)])
        fleet.refresh()

        response = await admin_client.get(
            f"/meters/{meter}/volumes", params={"start": iso(T0), "end": iso(T0 + 2 * HOUR)}
        )

        buckets = response.json()["buckets"]
        assert [(b["volume_l"], b["estimated"], b["end_interpolated"]) for b in buckets] == [
            (20, True, True),
            (10, True, False),
        ]

    async def test_bare_dates_select_local_days(self, admin_client, fleet):
        meter = fleet.meter(installed_at=T0, country="PG")
        fleet.readings(meter, [(T0 + i * HOUR, 10 * i) for i in range(1, 60)])
        fleet.refresh()

        response = await admin_client.get(
            f"/meters/{meter}/volumes",
            params={"granularity": "day", "start": "2026-03-03", "end": "2026-03-04"},
        )

        body = response.json()
        assert [b["label"] for b in body["buckets"]] == ["2026-03-03"]
        assert body["start"] == "2026-03-03T00:00:00+10:00"
        assert body["buckets"][0]["start"] == "2026-03-02T14:00:00Z"
        assert body["buckets"][0]["volume_l"] == 240

    async def test_too_long_an_hourly_range_is_422(self, admin_client, fleet):
        meter = fleet.meter(installed_at=T0)
        response = await admin_client.get(
            f"/meters/{meter}/volumes",
            params={"start": iso(T0), "end": iso(T0 + timedelta(days=400))},
        )
        assert response.status_code == 422
        assert "at most 93 days" in response.json()["detail"]

    async def test_unknown_granularity_is_422(self, admin_client, fleet):
        meter = fleet.meter(installed_at=T0)
        response = await admin_client.get(
            f"/meters/{meter}/volumes", params={"granularity": "week"}
        )
        assert response.status_code == 422

    async def test_unknown_meter_is_404(self, admin_client):
        response = await admin_client.get("/meters/999999/volumes")
        assert response.status_code == 404
        assert response.json()["error"] == "MeterNotFound"


def arrange_fleet_status(fleet: Fleet) -> dict[str, int]:
    """One meter reporting, one silent for hours, one never heard, one removed; queue and
    quarantine rows."""
    now = clock.now()
    db = fleet.db
    reporting = fleet.meter(installed_at=T0, reporting_interval_s=900)
    silent = fleet.meter(installed_at=T0, reporting_interval_s=900)
    never = fleet.meter(installed_at=T0)
    removed = fleet.meter(installed_at=T0, removed_at=T0 + HOUR)
    db.execute(
        "INSERT INTO meter_state (meter_id, last_time, last_index_l, last_received_at,"
        " readings_total) VALUES (%s, %s, 10, %s, 3), (%s, %s, 20, %s, 7)",
        [
            reporting,
            now - timedelta(seconds=40),
            now - timedelta(seconds=30),
            silent,
            now - timedelta(hours=3),
            now - timedelta(hours=3),
        ],
    )
    db.execute(
        "INSERT INTO reading (meter_id, time, source, index_l, received_at) VALUES"
        " (%s, %s, 'iot', 10, %s), (%s, %s, 'iot', 9, %s), (%s, %s, 'iot', 8, %s)",
        [
            reporting,
            now - timedelta(seconds=40),
            now - timedelta(seconds=30),
            reporting,
            now - timedelta(minutes=3),
            now - timedelta(minutes=3),
            reporting,
            now - timedelta(hours=2),
            now - timedelta(hours=2),
        ],
    )
    db.execute(
        "INSERT INTO rollup_pending (meter_id, since, queued_at) VALUES (%s, %s, %s), (%s, %s, %s)",
        [reporting, now, now - timedelta(seconds=20), silent, now, now - timedelta(seconds=90)],
    )
    db.execute(
        "INSERT INTO quarantine (topic, payload, reason, status) VALUES"
        " ('t', '', 'unknown_meter', 'open'), ('t', '', 'unknown_meter', 'open'),"
        " ('t', '', 'bad_json', 'open'), ('t', '', 'bad_json', 'discarded')"
    )
    return {"reporting": reporting, "silent": silent, "never": never, "removed": removed}


class TestIngestStatus:
    async def test_rate_lag_queue_meters_and_quarantine(self, admin_client, fleet):
        arrange_fleet_status(fleet)

        response = await admin_client.get("/ingest/status")

        assert response.status_code == 200
        body = response.json()
        assert (body["readings_last_minute"], body["readings_last_5_minutes"]) == (1, 2)
        assert body["readings_per_second"] == round(2 / 300, 3)
        assert 40 <= body["lag_s"] < 100
        assert body["rollup_queue_depth"] == 2
        assert 90 <= body["rollup_oldest_pending_s"] < 150
        assert (body["meters_active"], body["meters_reporting"], body["meters_silent"]) == (
            3,
            1,
            2,
        )
        assert body["quarantine"] == [
            {"reason": "bad_json", "status": "open", "count": 1},
            {"reason": "bad_json", "status": "discarded", "count": 1},
            {"reason": "unknown_meter", "status": "open", "count": 2},
        ]

    async def test_meters_page_lists_silent_meters_first(self, admin_client, fleet):
        ids = arrange_fleet_status(fleet)

        first = await admin_client.get("/ingest/status/meters", params={"limit": 2})
        second = await admin_client.get("/ingest/status/meters", params={"limit": 2, "offset": 2})

        assert first.json()["total"] == 3
        page = first.json()["meters"] + second.json()["meters"]
        assert [m["meter_id"] for m in page] == [ids["never"], ids["silent"], ids["reporting"]]
        assert [m["silent"] for m in page] == [True, True, False]
        assert page[0]["last_seen_at"] is None
        assert 3 * 3600 <= page[1]["silent_for_s"] < 3 * 3600 + 60
        assert page[2]["silent_for_s"] is None
        assert page[2]["readings_total"] == 3


class TestFleetMetrics:
    async def test_gauges_follow_the_fleet(self, settings, fleet):
        arrange_fleet_status(fleet)
        fast = settings.model_copy(update={"telemetry": TelemetrySettings(metrics_interval_s=0.05)})
        app = create_app(fast)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
        ):
            text = ""
            for _ in range(100):
                text = (await http.get("/metrics/")).text
                if "waterbill_fleet_rollup_queue_depth 2.0" in text:
                    break
                await asyncio.sleep(0.05)

        assert "waterbill_fleet_rollup_queue_depth 2.0" in text
        assert "waterbill_fleet_meters_reporting 1.0" in text
        assert "waterbill_fleet_meters_silent 2.0" in text
        assert 'waterbill_fleet_quarantine_open{reason="unknown_meter"} 2.0' in text
        assert 'waterbill_fleet_quarantine_open{reason="bad_json"} 1.0' in text
        assert "waterbill_fleet_ingest_lag_seconds" in text

    async def test_the_job_queue_depth_per_task(self, settings, db):
        db.execute(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status)"
            " VALUES ('default', 'scan', '{}', 'todo'), ('default', 'scan', '{}', 'todo'),"
            " ('default', 'remind', '{}', 'doing'), ('default', 'remind', '{}', 'succeeded')"
        )
        fast = settings.model_copy(update={"telemetry": TelemetrySettings(metrics_interval_s=0.05)})
        app = create_app(fast)
        expected = 'waterbill_jobs_queued{status="todo",task="scan"} 2.0'
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
        ):
            text = ""
            for _ in range(100):
                text = (await http.get("/metrics/")).text
                if expected in text:
                    break
                await asyncio.sleep(0.05)

        assert expected in text
        assert 'waterbill_jobs_queued{status="doing",task="remind"} 1.0' in text
        assert 'status="succeeded"' not in text
