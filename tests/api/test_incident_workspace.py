"""The incidents workspace's API: filters by status, severity and zone; assign; bulk actions."""

import pytest

from tests.api import test_anomalies
from tests.api.test_anomalies import Setting, ids

pytestmark = pytest.mark.services

# The anomalies tests' two buildings, incidents and one user per role.
setting = test_anomalies.setting


class TestFilters:
    async def test_status_severity_and_zone(self, client, setting: Setting, db):
        i = setting.incidents
        db.execute("UPDATE incident SET severity = 'critical' WHERE id = %s", [i["stuck"]])
        other_zone = db.execute(
            "INSERT INTO zone (country_code, code, name) VALUES ('CM', 'YDE', 'Yaoundé')"
            " RETURNING id"
        ).fetchone()[0]

        assert await ids(client, setting, "admin", status="resolved") == [i["burst"]]
        assert await ids(client, setting, "admin", severity="critical") == [i["stuck"]]
        assert await ids(client, setting, "admin", zone_id=setting.zone) == [
            i["stuck"],
            i["leak"],
            i["burst"],
        ]
        assert await ids(client, setting, "admin", zone_id=other_zone) == []
        answer = await client.get("/anomalies", params={"status": "gone"}, **setting.as_("admin"))
        assert answer.status_code == 422

    async def test_items_say_their_zone(self, client, setting: Setting):
        body = (await client.get("/anomalies", **setting.as_("admin"))).json()
        assert {item["zone_id"] for item in body["items"]} == {setting.zone}


class TestAssign:
    async def test_to_a_technician_then_to_nobody_audited(self, client, setting: Setting, db):
        leak = setting.incidents["leak"]
        technician = setting.users["technician"]

        given = await client.post(
            f"/anomalies/{leak}/assign", json={"user_id": technician}, **setting.as_("admin")
        )
        taken_back = await client.post(
            f"/anomalies/{leak}/assign", json={"user_id": None}, **setting.as_("admin")
        )

        assert given.status_code == 200, given.text
        assert given.json()["assigned_to"] == technician
        assert taken_back.json()["assigned_to"] is None
        audited = db.execute(
            "SELECT detail->>'to' FROM audit_log WHERE action = 'incident.assigned'"
            " AND target_id = %s ORDER BY id",
            [str(leak)],
        ).fetchall()
        assert audited == [(str(technician),), (None,)]

    async def test_only_to_staff(self, client, setting: Setting):
        answer = await client.post(
            f"/anomalies/{setting.incidents['leak']}/assign",
            json={"user_id": setting.users["customer"]},
            **setting.as_("admin"),
        )
        assert answer.status_code == 422
        assert answer.json()["error"] == "AssigneeNotFound"

    async def test_assignees_are_the_active_admins_and_technicians(self, client, setting: Setting):
        body = (await client.get("/anomalies/assignees", **setting.as_("admin"))).json()
        assert sorted(a["id"] for a in body) == sorted(
            [setting.users["admin"], setting.users["technician"]]
        )


class TestBulk:
    async def test_acknowledge_many_and_report_the_refused(self, client, setting: Setting, db):
        i = setting.incidents
        db.execute("UPDATE incident SET status = 'closed' WHERE id = %s", [i["burst"]])

        answer = await client.post(
            "/anomalies/bulk",
            json={"ids": [i["leak"], i["stuck"], i["burst"], 999_999], "action": "acknowledge"},
            **setting.as_("admin"),
        )

        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert sorted(item["id"] for item in body["done"]) == sorted([i["leak"], i["stuck"]])
        assert {item["status"] for item in body["done"]} == {"acknowledged"}
        assert {(r["id"], r["error"]) for r in body["refused"]} == {
            (i["burst"], "IncidentAlreadyClosed"),
            (999_999, "IncidentNotFound"),
        }

    async def test_resolve_needs_a_note_for_ongoing_ones(self, client, setting: Setting):
        i = setting.incidents
        without = await client.post(
            "/anomalies/bulk",
            json={"ids": [i["leak"], i["stuck"]], "action": "resolve"},
            **setting.as_("admin"),
        )
        with_note = await client.post(
            "/anomalies/bulk",
            json={"ids": [i["leak"], i["stuck"]], "action": "resolve", "note": "Pipe fixed"},
            **setting.as_("admin"),
        )
        assert {r["error"] for r in without.json()["refused"]} == {"NoteRequired"}
        assert {(d["status"], d["note"]) for d in with_note.json()["done"]} == {
            ("closed", "Pipe fixed")
        }

    async def test_a_manager_acts_only_within_reach(self, client, setting: Setting):
        i = setting.incidents
        answer = await client.post(
            "/anomalies/bulk",
            json={"ids": [i["leak"], i["stuck"]], "action": "assign", "user_id": None},
            **setting.as_("manager"),
        )
        body = answer.json()
        assert [d["id"] for d in body["done"]] == [i["leak"]]
        assert [(r["id"], r["error"]) for r in body["refused"]] == [
            (i["stuck"], "IncidentNotFound")
        ]

    @pytest.mark.parametrize(
        "body",
        [
            {"ids": [], "action": "acknowledge"},
            {"ids": list(range(1, 202)), "action": "acknowledge"},
            {"ids": [1], "action": "delete"},
        ],
    )
    async def test_bad_requests_are_422(self, client, setting: Setting, body):
        answer = await client.post("/anomalies/bulk", json=body, **setting.as_("admin"))
        assert answer.status_code == 422
