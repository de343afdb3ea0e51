"""The quarantine endpoints on the real database."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import psycopg
import pytest

from tests.ingest.conftest import register
from wire.codec import encode_reading

pytestmark = pytest.mark.services

GOOD = orjson.dumps(encode_reading(datetime(2026, 11, 24, 6, tzinfo=UTC), 5))


def quarantine(db: psycopg.Connection, *rows: tuple[str, str, bytes]) -> list[int]:
    ids = []
    for serial, reason, payload in rows:
        row = db.execute(
            "INSERT INTO quarantine (topic, payload, reason, serial) VALUES (%s, %s, %s, %s)"
            " RETURNING id",
            [f"wb/0/meters/{serial}/up", payload, reason, serial],
        ).fetchone()
        assert row is not None
        ids.append(row[0])
    return ids


class TestListQuarantine:
    async def test_lists_open_messages_with_counts_by_reason(self, admin_client, db):
        quarantine(
            db,
            ("Q-1", "unknown_meter", GOOD),
            ("Q-2", "unknown_meter", GOOD),
            ("Q-3", "malformed_json", b"\xff{"),
        )
        response = await admin_client.get("/quarantine", params={"reason": "malformed_json"})
        assert response.status_code == 200
        body = response.json()
        assert [item["serial"] for item in body["items"]] == ["Q-3"]
        assert body["items"][0]["payload_bytes"] == 2
        assert body["counts"] == {"unknown_meter": 2, "malformed_json": 1}

    async def test_an_unknown_reason_is_a_422(self, admin_client):
        response = await admin_client.get("/quarantine", params={"reason": "bogus"})
        assert response.status_code == 422


class TestReprocessQuarantine:
    async def test_reprocess_by_reason_stores_what_now_passes(self, admin_client, db):
        quarantine(db, ("RQ-1", "unknown_meter", GOOD), ("RQ-2", "unknown_meter", GOOD))
        register(db, ["RQ-1"])
        response = await admin_client.post(
            "/quarantine/reprocess", json={"reason": "unknown_meter"}
        )
        assert response.status_code == 200
        assert response.json() == {"reprocessed": 1, "still_open": {"unknown_meter": 1}}
        assert db.execute("SELECT count(*) FROM reading").fetchone() == (1,)
        statuses = db.execute("SELECT serial, status::text FROM quarantine ORDER BY serial")
        assert statuses.fetchall() == [("RQ-1", "reprocessed"), ("RQ-2", "open")]

    async def test_reprocess_by_ids_only_touches_those(self, admin_client, db):
        register(db, ["RI-1", "RI-2"])
        first, _ = quarantine(db, ("RI-1", "unknown_meter", GOOD), ("RI-2", "unknown_meter", GOOD))
        response = await admin_client.post("/quarantine/reprocess", json={"ids": [first]})
        assert response.json()["reprocessed"] == 1
        assert db.execute("SELECT count(*) FROM quarantine WHERE status = 'open'").fetchone() == (
            1,
        )

    async def test_without_ids_or_reason_is_a_422(self, admin_client):
        response = await admin_client.post("/quarantine/reprocess", json={})
        assert response.status_code == 422


class TestDiscardQuarantine:
    async def test_discard_closes_open_messages(self, admin_client, db):
        ids = quarantine(db, ("D-1", "schema_violation", b"{}"))
        response = await admin_client.post("/quarantine/discard", json={"ids": ids})
        assert response.json() == {"discarded": 1}
        assert db.execute("SELECT status::text FROM quarantine").fetchone() == ("discarded",)
