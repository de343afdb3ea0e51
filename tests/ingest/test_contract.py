"""Readings the wire contract refuses, sent through the broker to a real worker: quarantined with
their reason, never stored."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from ingest.consumer import EXIT_REFUSED
from tests.ingest.conftest import Publisher, register, wait_all, wait_for_rows
from wire.codec import encode_reading

pytestmark = [pytest.mark.services, pytest.mark.slow]

T = datetime(2026, 11, 24, 6, tzinfo=UTC)


def quarantined(db: psycopg.Connection) -> list[tuple[Any, ...]]:
    return db.execute("SELECT serial, reason FROM quarantine ORDER BY serial").fetchall()


class TestImpossibleTimes:
    def test_epoch_numbers_and_times_before_2000_or_the_installation_are_quarantined(
        self, db, database_url, local_broker, publisher, start_worker
    ):
        serials = ["TIME-EPOCH9999", "TIME-EPOCH0", "TIME-EPOCHNEG", "TIME-1999", "TIME-PREINST"]
        serials.append("TIME-OK")
        ids = register(db, serials)
        db.execute("UPDATE meter SET installed_at = %s WHERE id = %s", [T, ids["TIME-PREINST"]])
        worker = start_worker(database_url, local_broker)
        worker.wait_subscribed()
        bodies = {
            "TIME-EPOCH9999": {"time": 253402300799, "index_l": 1},
            "TIME-EPOCH0": {"time": 0, "index_l": 1},
            "TIME-EPOCHNEG": {"time": -1, "index_l": 1},
            "TIME-1999": {"time": "1999-12-31T23:59:59Z", "index_l": 1},
            "TIME-PREINST": {"time": "2026-11-24T05:59:59Z", "index_l": 1},
            "TIME-OK": encode_reading(T, 1),
        }
        wait_all([publisher.send(serial, body) for serial, body in bodies.items()])
        assert wait_for_rows(db, "SELECT count(*) FROM quarantine", 5) == 5
        assert wait_for_rows(db, "SELECT count(*) FROM reading", 1) == 1
        assert worker.stop() == 0
        assert quarantined(db) == [
            ("TIME-1999", "implausible_time"),
            ("TIME-EPOCH0", "schema_violation"),
            ("TIME-EPOCH9999", "schema_violation"),
            ("TIME-EPOCHNEG", "schema_violation"),
            ("TIME-PREINST", "implausible_time"),
        ]
        assert db.execute("SELECT meter_id FROM reading").fetchall() == [(ids["TIME-OK"],)]
        # No chunk was created outside the readings' own time.
        assert db.execute(
            "SELECT count(*) FROM show_chunks('reading', older_than => '2026-01-01'::timestamptz)"
        ).fetchone() == (0,)


class TestRegisterDigits:
    def test_an_index_beyond_a_9_digit_register_is_quarantined(
        self, db, database_url, local_broker, publisher, start_worker
    ):
        register(db, ["DIGITS-1"])
        worker = start_worker(database_url, local_broker)
        worker.wait_subscribed()
        wait_all(
            [
                publisher.send("DIGITS-1", encode_reading(T, 999_999_999)),
                publisher.send("DIGITS-1", {"time": "2026-11-24T06:01:00Z", "index_l": 5 * 10**11}),
            ]
        )
        assert wait_for_rows(db, "SELECT count(*) FROM quarantine", 1) == 1
        assert worker.stop() == 0
        assert quarantined(db) == [("DIGITS-1", "index_out_of_range")]
        assert db.execute("SELECT index_l FROM reading").fetchall() == [(999_999_999,)]


class TestConflictingDuplicates:
    def test_another_index_at_a_stored_time_is_quarantined_whatever_the_timing(
        self, db, database_url, local_broker, publisher, start_worker
    ):
        register(db, ["CONFLICT-1", "CONFLICT-2"])
        worker = start_worker(database_url, local_broker)
        worker.wait_subscribed()
        first = encode_reading(T, 100)
        # Back to back, in all likelihood one batch; then identical and conflicting 3 s later.
        wait_all(
            [
                publisher.send("CONFLICT-1", first),
                publisher.send("CONFLICT-1", encode_reading(T, 5000)),
                publisher.send("CONFLICT-2", first),
            ]
        )
        assert wait_for_rows(db, "SELECT count(*) FROM reading", 2) == 2
        time.sleep(3)
        wait_all(
            [
                publisher.send("CONFLICT-2", first),
                publisher.send("CONFLICT-2", encode_reading(T, 101)),
            ]
        )
        assert wait_for_rows(db, "SELECT count(*) FROM quarantine", 2) == 2
        assert worker.stop() == 0
        assert quarantined(db) == [
            ("CONFLICT-1", "conflicting_duplicate"),
            ("CONFLICT-2", "conflicting_duplicate"),
        ]
        assert db.execute("SELECT index_l FROM reading").fetchall() == [(100,), (100,)]


class TestBounded:
    def test_oversize_payloads_are_quarantined_as_their_first_kib_or_refused_by_the_broker(
        self, db, database_url, local_broker, publisher, start_worker
    ):
        register(db, ["SIZE-1"])
        worker = start_worker(database_url, local_broker)
        worker.wait_subscribed()
        large = b'{"readings": [' + b" " * (600 * 1024) + b"]}"
        huge = b" " * (local_broker.message_size_limit + 1)
        wait_all([publisher.send("SIZE-1", large)])
        # Refused by the broker, which drops the publisher's connection: a client of its own.
        rogue = Publisher(local_broker)
        rogue.send("SIZE-1", huge)
        time.sleep(1)
        rogue.close()
        wait_all([publisher.send("SIZE-1", encode_reading(T, 1))])
        assert wait_for_rows(db, "SELECT count(*) FROM reading", 1) == 1
        assert worker.stop() == 0
        rows = db.execute("SELECT reason, detail, payload FROM quarantine").fetchall()
        assert len(rows) == 1
        reason, detail, payload = rows[0]
        assert reason == "payload_too_large"
        assert detail.startswith(f"{len(large)} bytes, at most {512 * 1024}")
        assert bytes(payload) == large[:1024]

    def test_a_burst_of_bad_messages_is_logged_as_counts(
        self, db, database_url, local_broker, publisher, start_worker
    ):
        worker = start_worker(database_url, local_broker)
        worker.wait_subscribed()
        wait_all([publisher.send("NOBODY-1", b"not json") for _ in range(200)])
        assert wait_for_rows(db, "SELECT count(*) FROM quarantine", 200) == 200
        assert worker.stop() == 0
        lines = [line for line in worker.log.read_text().splitlines() if "quarantined" in line]
        assert 1 <= len(lines) <= 2, lines
        counts = [int(line.split("quarantined ")[1].split(" ")[0]) for line in lines]
        assert sum(counts) == 200


class TestLoudFailures:
    def test_a_wrong_broker_password_makes_the_worker_exit_non_zero_soon(
        self, database_url, local_broker, start_worker
    ):
        good = start_worker(database_url, local_broker)
        good.wait_subscribed()
        assert good.stop() == 0
        started = time.monotonic()
        bad = start_worker(database_url, local_broker, WATERBILL_MQTT__PASSWORD="wrong")
        assert bad.process.wait(timeout=30) == EXIT_REFUSED
        assert time.monotonic() - started < 15
        log = bad.log.read_text()
        # Mosquitto says "not authorized" (0x87) for a wrong password, others 0x86.
        assert "3 times in a row" in log
        assert "(reason 0x86)" in log or "(reason 0x87)" in log
        assert "Check WATERBILL_MQTT__USERNAME" in log
