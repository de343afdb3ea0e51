import hashlib
from datetime import timedelta
from pathlib import Path

import pytest

from tests import clock
from tests.api.field.conftest import JPEG, post_reading

pytestmark = pytest.mark.services


class TestTodaysRound:
    async def test_the_round_lists_what_needs_a_visit_and_why(self, client, field, db):
        now = clock.now()
        never_read = field.meter()
        read_long_ago = field.meter()
        field.reading(read_long_ago, now - timedelta(days=45), 100, "manual")
        read_recently = field.meter()
        field.reading(read_recently, now - timedelta(days=40), 90, "manual")
        field.reading(read_recently, now - timedelta(days=3), 100, "manual")
        silent = field.meter(kind="iot")
        db.execute(
            "INSERT INTO meter_state (meter_id, last_time, last_index_l, last_received_at)"
            " VALUES (%s, %s, 5, %s)",
            [silent, now - timedelta(days=2), now - timedelta(days=2)],
        )
        reporting = field.meter(kind="iot")
        db.execute(
            "INSERT INTO meter_state (meter_id, last_time, last_index_l, last_received_at)"
            " VALUES (%s, now(), 5, now())",
            [reporting],
        )
        faulty = field.meter(kind="iot")
        db.execute(
            "INSERT INTO meter_state (meter_id, last_time, last_index_l, last_received_at)"
            " VALUES (%s, now(), 5, now())",
            [faulty],
        )
        db.execute(
            "INSERT INTO meter_fault (meter_id, kind, reported_by, observed_at, reported_at)"
            " VALUES (%s, 'broken', %s, now() - interval '3 days', now() - interval '3 days')",
            [faulty, field.technician_id],
        )
        removed = field.meter(removed_at=now - timedelta(days=1))
        elsewhere = field.meter(building_id=field.other_building_id)

        answer = await client.get("/rounds/today", headers=field.headers)

        assert answer.status_code == 200, answer.text
        reasons = {m["meter_id"]: m["reasons"] for m in answer.json()["meters"]}
        assert reasons == {
            never_read: ["due"],
            read_long_ago: ["due"],
            silent: ["silent"],
            faulty: ["fault"],
        }
        assert not {read_recently, reporting, removed, elsewhere} & set(reasons)
        first_two = [m["meter_id"] for m in answer.json()["meters"][:2]]
        assert set(first_two) == {silent, faulty}, "urgent visits first"
        by_id = {m["meter_id"]: m for m in answer.json()["meters"]}
        assert [f["kind"] for f in by_id[faulty]["faults"]] == ["broken"]
        assert by_id[read_long_ago]["last_index_l"] == 100
        assert by_id[never_read]["building_name"] == "Akwa"

    async def test_a_meter_read_today_stays_on_the_round_marked_done(self, client, field):
        now = clock.now()
        meter = field.meter()

        stored = await post_reading(
            client,
            field,
            key="key-round-1",
            meter_id=meter,
            time=now - timedelta(minutes=1),
            index_l=42,
        )
        answer = await client.get("/rounds/today", headers=field.headers)

        assert stored.status_code == 201
        (item,) = answer.json()["meters"]
        assert (item["meter_id"], item["read_today"], item["reasons"]) == (meter, True, ["due"])
        assert item["last_index_l"] == 42

    async def test_a_device_alarm_puts_a_meter_on_the_round(self, client, field, db):
        meter = field.meter(kind="iot")
        db.execute(
            "INSERT INTO meter_state (meter_id, last_time, last_index_l, last_received_at)"
            " VALUES (%s, now(), 5, now())",
            [meter],
        )
        db.execute(
            "INSERT INTO incident (meter_id, kind, severity, started_at, last_seen_at)"
            " VALUES (%s, 'tamper', 'warning', now(), now())",
            [meter],
        )

        answer = await client.get("/rounds/today", headers=field.headers)

        (item,) = answer.json()["meters"]
        assert (item["reasons"], item["incidents"]) == (["device_alarm"], ["tamper"])

    async def test_zero_use_puts_a_meter_on_the_round_to_check_its_register(
        self, client, field, db
    ):
        meter = field.meter(kind="iot")
        db.execute(
            "INSERT INTO meter_state (meter_id, last_time, last_index_l, last_received_at)"
            " VALUES (%s, now(), 5, now())",
            [meter],
        )
        db.execute(
            "INSERT INTO incident (meter_id, kind, severity, started_at, last_seen_at)"
            " VALUES (%s, 'stuck', 'info', now() - interval '14 days', now())",
            [meter],
        )

        answer = await client.get("/rounds/today", headers=field.headers)

        (item,) = answer.json()["meters"]
        assert (item["reasons"], item["incidents"]) == (["check_register"], ["stuck"])


class TestFaults:
    async def test_a_reported_fault_is_stored_with_its_photo_and_listed_for_operators(
        self, client, field, admin_headers, settings
    ):
        meter = field.meter()

        answer = await client.post(
            f"/meters/{meter}/faults",
            files={
                "kind": (None, "broken"),
                "note": (None, "glass cracked"),
                "photo": ("fault.jpg", JPEG, "image/jpeg"),
            },
            headers=field.headers,
        )
        listed = await client.get("/faults", headers=admin_headers)

        assert answer.status_code == 201, answer.text
        fault = answer.json()
        assert (fault["kind"], fault["note"], fault["status"]) == (
            "broken",
            "glass cracked",
            "open",
        )
        assert [f["id"] for f in listed.json()] == [fault["id"]]
        digest = hashlib.sha256(JPEG).hexdigest()
        assert (Path(settings.field.photo_dir) / digest[:2] / f"{digest}.jpg").exists()

    async def test_an_offline_report_replayed_with_its_key_is_stored_once(self, client, field):
        now = clock.now()
        meter = field.meter()
        form = {
            "kind": (None, "illegible"),
            "observed_at": (None, (now - timedelta(hours=2)).isoformat()),
        }
        headers = {**field.headers, "Idempotency-Key": "fault-key-1"}

        first = await client.post(f"/meters/{meter}/faults", files=form, headers=headers)
        again = await client.post(f"/meters/{meter}/faults", files=form, headers=headers)

        assert (first.status_code, again.status_code) == (201, 201)
        assert again.json() == first.json()
        assert again.headers["Idempotent-Replayed"] == "true"
        count = field.db.execute("SELECT count(*) FROM meter_fault WHERE meter_id = %s", [meter])
        assert count.fetchone() == (1,)

    async def test_resolving_closes_open_faults_only(self, client, field, admin_headers):
        meter = field.meter()
        created = await client.post(
            f"/meters/{meter}/faults", files={"kind": (None, "stopped")}, headers=field.headers
        )
        fault_id = created.json()["id"]

        first = await client.post(
            "/faults/resolve", json={"ids": [fault_id]}, headers=admin_headers
        )
        second = await client.post(
            "/faults/resolve", json={"ids": [fault_id]}, headers=admin_headers
        )
        still_open = await client.get("/faults", headers=admin_headers)

        assert [f["status"] for f in first.json()] == ["resolved"]
        assert second.json() == []
        assert still_open.json() == []

    async def test_an_unknown_kind_is_refused(self, client, field):
        meter = field.meter()

        answer = await client.post(
            f"/meters/{meter}/faults", files={"kind": (None, "haunted")}, headers=field.headers
        )

        assert answer.status_code == 422
