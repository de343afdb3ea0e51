"""Batch handling against the real database: meters, index plausibility, state, reprocess."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import orjson
import psycopg
import pytest

from ingest.decoder import Reason
from ingest.payload import encode_reading
from ingest.repository import IngestRepository
from ingest.service import Limits, MeterDirectory, receive, record_messages, reprocess
from tests.ingest.conftest import register

pytestmark = pytest.mark.services

LIMITS = Limits(topic_prefix="wb", max_future_s=600, max_flow_lph=3600)  # 1 litre per second
T = datetime(2026, 11, 24, 6, tzinfo=UTC)


def message(serial: str, *readings: tuple[int, int]):
    """A message of (seconds after T, index) readings."""
    body = [encode_reading(T + timedelta(seconds=s), i) for s, i in readings]
    payload = orjson.dumps(body[0] if len(body) == 1 else {"readings": body})
    return receive(f"wb/0/meters/{serial}/up", payload, limits=LIMITS)


@pytest.fixture
async def repo(database_url) -> AsyncIterator[IngestRepository]:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        repository = IngestRepository(conn)
        await repository.create_stage()
        await conn.commit()
        yield repository


async def record(repo: IngestRepository, *messages):
    async with repo.conn.transaction():
        return await record_messages(
            repo, messages=list(messages), limits=LIMITS, meters=MeterDirectory()
        )


def reasons(db) -> list[str]:
    return [r for (r,) in db.execute("SELECT reason FROM quarantine ORDER BY id")]


class TestRecordMessages:
    async def test_unknown_meter_is_quarantined_with_its_serial(self, repo, db):
        result = await record(repo, message("NOPE-1", (0, 5)))
        assert result.stored == 0
        assert db.execute("SELECT reason, serial FROM quarantine").fetchall() == [
            ("unknown_meter", "NOPE-1")
        ]

    async def test_duplicates_are_counted_not_stored(self, repo, db):
        register(db, ["DUP-1"])
        first = await record(repo, message("DUP-1", (0, 5), (60, 10)))
        again = await record(repo, message("DUP-1", (0, 5)), message("DUP-1", (60, 10)))
        assert (first.stored, again.stored, again.duplicates) == (2, 0, 2)
        assert db.execute("SELECT readings_total FROM meter_state").fetchone() == (2,)

    async def test_jump_beyond_the_stored_state_is_quarantined(self, repo, db):
        register(db, ["JMP-1"])
        await record(repo, message("JMP-1", (0, 100)))
        result = await record(repo, message("JMP-1", (10, 112)), message("JMP-1", (20, 121)))
        assert result.stored == 1
        assert reasons(db) == [Reason.INDEX_JUMP]

    async def test_jump_inside_one_batch_is_quarantined(self, repo, db):
        register(db, ["JMP-2"])
        result = await record(
            repo,
            message("JMP-2", (0, 100)),
            message("JMP-2", (60, 5000)),
            message("JMP-2", (120, 150)),
        )
        assert (result.stored, reasons(db)) == (2, [Reason.INDEX_JUMP])

    async def test_index_going_backwards_is_a_jump(self, repo, db):
        register(db, ["BACK-1"])
        await record(repo, message("BACK-1", (0, 100)))
        await record(repo, message("BACK-1", (60, 99)))
        assert reasons(db) == [Reason.INDEX_JUMP]

    async def test_register_wrapping_round_is_not_a_jump(self, repo, db):
        register(db, ["WRAP-1"], digits=4)
        await record(repo, message("WRAP-1", (0, 9990)))
        result = await record(repo, message("WRAP-1", (60, 20)))
        assert (result.stored, reasons(db)) == (1, [])

    async def test_late_reading_does_not_move_state_back(self, repo, db):
        ids = register(db, ["LATE-1"])
        await record(repo, message("LATE-1", (3600, 500)))
        await record(repo, message("LATE-1", (0, 100)))
        state = db.execute(
            "SELECT last_time, last_index_l, readings_total FROM meter_state WHERE meter_id = %s",
            [ids["LATE-1"]],
        ).fetchone()
        assert state == (T + timedelta(hours=1), 500, 2)
        assert db.execute("SELECT since FROM rollup_pending").fetchone() == (T,)


class TestReprocess:
    async def test_registering_the_meter_then_reprocessing_stores_it(self, repo, db):
        await record(repo, message("LATER-1", (0, 5)), message("LATER-2", (0, 5)))
        register(db, ["LATER-1"])
        async with repo.conn.transaction():
            result = await reprocess(repo, reasons=["unknown_meter"], limits=LIMITS)
        assert (result.reprocessed, result.still_open) == (1, {"unknown_meter": 1})
        assert db.execute("SELECT count(*) FROM reading").fetchone() == (1,)
        assert db.execute(
            "SELECT serial, status::text FROM quarantine ORDER BY serial"
        ).fetchall() == [("LATER-1", "reprocessed"), ("LATER-2", "open")]

    async def test_a_message_failing_for_another_reason_stays_open_with_it(self, repo, db):
        register(db, ["RE-1"])
        await record(repo, message("RE-1", (0, 100)))
        await record(repo, message("RE-1", (10, 10_000)))
        db.execute("UPDATE quarantine SET reason = 'unknown_meter'")
        (qid,) = db.execute("SELECT id FROM quarantine").fetchone()
        async with repo.conn.transaction():
            result = await reprocess(repo, ids=[qid], limits=LIMITS)
        assert result.still_open == {"index_jump": 1}
        assert db.execute("SELECT reason, status::text FROM quarantine").fetchone() == (
            "index_jump",
            "open",
        )
