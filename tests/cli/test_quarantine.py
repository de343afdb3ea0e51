"""``waterbill quarantine``, run as the operator would."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

import orjson
import pytest

from tests.ingest.conftest import ROOT, register
from wire.codec import encode_reading

pytestmark = pytest.mark.services


def waterbill(database_url: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env={
            **os.environ,
            "WATERBILL_DATABASE_URL": database_url,
            "WATERBILL_ENVIRONMENT": "test",
            "COLUMNS": "200",
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


class TestQuarantineCommands:
    def test_list_reprocess_and_discard(self, db, database_url):
        payload = orjson.dumps(encode_reading(datetime(2026, 11, 24, tzinfo=UTC), 5))
        for serial in ("CLI-1", "CLI-2"):
            db.execute(
                "INSERT INTO quarantine (topic, payload, reason, serial)"
                " VALUES (%s, %s, 'unknown_meter', %s)",
                [f"wb/0/meters/{serial}/up", payload, serial],
            )
        assert "unknown_meter: 2" in waterbill(database_url, "quarantine", "list")
        register(db, ["CLI-1"])
        out = waterbill(database_url, "quarantine", "reprocess", "--reason", "unknown_meter")
        assert "stored: 1" in out
        assert "still open, unknown_meter: 1" in out
        (open_id,) = db.execute("SELECT id FROM quarantine WHERE status = 'open'").fetchone()
        assert "discarded: 1" in waterbill(database_url, "quarantine", "discard", str(open_id))
        assert db.execute("SELECT count(*) FROM reading").fetchone() == (1,)
