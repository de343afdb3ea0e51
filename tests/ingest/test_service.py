"""Batch handling against the real database: meters, index plausibility, state, reprocess."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import orjson
import psycopg
import pytest

from core.config_ingest import IngestSettings
from ingest.decoder import Reason
from ingest.repository import IngestRepository
from ingest.service import Limits, MeterDirectory, receive, record_messages, reprocess
from tests.ingest.conftest import register
from wire.alarms import AlarmName
from wire.codec import encode_reading

pytestmark = pytest.mark.services

LIMITS = Limits(
    topic_prefix="wb",
    max_future_s=600,
    max_flow_lph=3600,  # 1 litre per second
    max_payload_bytes=IngestSettings().max_payload_bytes,
)
T = datetime(2026, 11, 24, 6, tzinfo=UTC)


def message(serial: str, *readings: tuple[int, int]):
    """A message of (seconds after T, index) readings."""
    body = [encode_reading(T + timedelta(seconds=s), i) for s, i in readings]
    payload = orjson.dumps(body[0] if len(body) == 1 else {"readings": body})
    return receive(f"wb/0/meters/{serial}/up", payload, limits=LIMITS)


def flagged(serial: str, seconds: int, index: int, alarms: list[AlarmName]):
    body = encode_reading(T + timedelta(seconds=seconds), index, alarms=alarms)
    return receive(f"wb/0/meters/{serial}/up", orjson.dumps(body), limits=LIMITS)


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

    async def test_a_small_step_back_is_stored(self, repo, db):
        register(db, ["BACK-1"])
        await record(repo, message("BACK-1", (0, 100)))
        result = await record(repo, message("BACK-1", (60, 100 - LIMITS.reverse_tolerance_l)))
        assert (result.stored, reasons(db)) == (1, [])

    async def test_a_larger_step_back_without_backflow_alarm_is_a_jump(self, repo, db):
        register(db, ["BACK-2"])
        await record(repo, message("BACK-2", (0, 100)))
        result = await record(repo, message("BACK-2", (60, 100 - LIMITS.reverse_tolerance_l - 1)))
        assert (result.stored, reasons(db)) == (0, [Reason.INDEX_JUMP])

    async def test_a_step_back_flagged_as_backflow_is_stored_for_analytics(self, repo, db):
        register(db, ["BACK-3"])
        await record(repo, message("BACK-3", (0, 100)))
        # 40 litres back in a minute: within the highest flow (1 l/s here), run backwards.
        result = await record(repo, flagged("BACK-3", 60, 60, [AlarmName.BACKFLOW]))
        assert (result.stored, reasons(db)) == (1, [])

    async def test_backflow_faster_than_any_flow_is_still_a_jump(self, repo, db):
        register(db, ["BACK-4"])
        await record(repo, message("BACK-4", (0, 1000)))
        result = await record(repo, flagged("BACK-4", 60, 500, [AlarmName.BACKFLOW]))
        assert (result.stored, reasons(db)) == (0, [Reason.INDEX_JUMP])

    async def test_readings_after_the_meter_removal_are_quarantined(self, repo, db):
        ids = register(db, ["GONE-1"])
        db.execute(
            "UPDATE meter SET removed_at = %s WHERE id = %s",
            [T + timedelta(hours=1), ids["GONE-1"]],
        )
        result = await record(repo, message("GONE-1", (0, 100)), message("GONE-1", (3600, 110)))
        assert (result.stored, reasons(db)) == (1, [Reason.METER_REMOVED])

    async def test_an_index_beyond_the_register_digits_is_quarantined(self, repo, db):
        register(db, ["DIG-9"])
        register(db, ["DIG-4"], digits=4)
        result = await record(
            repo,
            message("DIG-9", (0, 999_999_999)),
            message("DIG-9", (60, 500_000_000_000)),
            message("DIG-4", (0, 9999)),
            message("DIG-4", (60, 10_000)),
        )
        assert (result.stored, sorted(result.rejected)) == (2, [1, 3])
        assert reasons(db) == [Reason.INDEX_OUT_OF_RANGE] * 2
        assert "a 9-digit register shows at most 999999999" in result.rejected[1].detail

    async def test_readings_before_the_meter_installation_are_quarantined(self, repo, db):
        ids = register(db, ["NEW-1"])
        db.execute("UPDATE meter SET installed_at = %s WHERE id = %s", [T, ids["NEW-1"]])
        result = await record(repo, message("NEW-1", (-1, 100)), message("NEW-1", (0, 100)))
        assert (result.stored, reasons(db)) == (1, [Reason.IMPLAUSIBLE_TIME])
        assert "before the meter's installation" in result.rejected[0].detail

    async def test_a_late_reading_is_judged_against_its_stored_neighbours(self, repo, db):
        register(db, ["NEIGH-1"])
        await record(repo, message("NEIGH-1", (0, 100), (3600, 3000)))
        # Each alone in its batch: the latest reading (3000 at 3600 s) says nothing about them.
        for late in [
            message("NEIGH-1", (1800, 5000)),  # more than an hour's flow after the 0 s reading
            message("NEIGH-1", (3500, 150)),  # 2850 l short of the reading 100 s later
            message("NEIGH-1", (1200, 900)),  # fits between both
        ]:
            await record(repo, late)
        assert reasons(db) == [Reason.INDEX_JUMP, Reason.INDEX_JUMP]
        assert db.execute("SELECT count(*) FROM reading").fetchone() == (3,)


class TestConflictingDuplicates:
    async def test_another_index_at_a_stored_time_is_quarantined_in_a_later_batch(self, repo, db):
        register(db, ["CONF-1"])
        await record(repo, message("CONF-1", (0, 100)))
        result = await record(repo, message("CONF-1", (0, 103)))
        assert (result.stored, result.duplicates, reasons(db)) == (
            0,
            0,
            [Reason.CONFLICTING_DUPLICATE],
        )
        assert "index 103" in result.rejected[0].detail
        assert "has index 100" in result.rejected[0].detail
        assert db.execute("SELECT index_l FROM reading").fetchall() == [(100,)]

    async def test_a_conflict_far_off_the_neighbours_is_a_conflict_not_a_jump(self, repo, db):
        register(db, ["CONF-2"])
        await record(repo, message("CONF-2", (0, 100), (60, 110), (120, 120)))
        await record(repo, message("CONF-2", (60, 90_000)), message("CONF-2", (120, 90_000)))
        assert reasons(db) == [Reason.CONFLICTING_DUPLICATE] * 2

    async def test_back_to_back_in_one_batch_the_second_is_quarantined(self, repo, db):
        register(db, ["CONF-3"])
        result = await record(repo, message("CONF-3", (0, 100)), message("CONF-3", (0, 5000)))
        assert (result.stored, sorted(result.rejected), reasons(db)) == (
            1,
            [1],
            [Reason.CONFLICTING_DUPLICATE],
        )
        assert db.execute("SELECT index_l FROM reading").fetchall() == [(100,)]

    async def test_late_readings_in_one_batch_conflict_among_themselves(self, repo, db):
        register(db, ["CONF-4"])
        await record(repo, message("CONF-4", (3600, 200)))
        result = await record(repo, message("CONF-4", (0, 100)), message("CONF-4", (0, 101)))
        assert (result.stored, sorted(result.rejected)) == (1, [1])
        assert reasons(db) == [Reason.CONFLICTING_DUPLICATE]

    async def test_a_message_conflicting_with_itself_is_quarantined(self, repo, db):
        register(db, ["CONF-5"])
        result = await record(repo, message("CONF-5", (0, 100), (0, 101)))
        assert (result.stored, reasons(db)) == (0, [Reason.CONFLICTING_DUPLICATE])

    async def test_the_whole_message_is_quarantined_fresh_readings_included(self, repo, db):
        register(db, ["CONF-6"])
        await record(repo, message("CONF-6", (0, 100)))
        result = await record(repo, message("CONF-6", (0, 104), (60, 110)))
        assert (result.stored, reasons(db)) == (0, [Reason.CONFLICTING_DUPLICATE])
        assert db.execute("SELECT count(*) FROM reading").fetchone() == (1,)
        assert db.execute("SELECT last_index_l, readings_total FROM meter_state").fetchone() == (
            100,
            1,
        )

    async def test_an_identical_reading_is_a_silent_duplicate(self, repo, db):
        register(db, ["CONF-7"])
        await record(repo, message("CONF-7", (0, 100), (60, 110)))
        again = await record(
            repo, message("CONF-7", (0, 100)), message("CONF-7", (60, 110), (120, 115))
        )
        same_batch = await record(
            repo, message("CONF-7", (180, 120)), message("CONF-7", (180, 120))
        )
        assert (again.stored, again.duplicates, same_batch.stored, same_batch.duplicates) == (
            1,
            2,
            1,
            1,
        )
        assert reasons(db) == []


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
