"""The worker as a real process against the real broker and database."""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from core.broker_auth import TEST_ACCOUNT
from core.local_services import free_port
from simulators.publisher import Publisher
from tests.ingest.conftest import register, wait_all, wait_for_rows
from wire.codec import encode_reading
from wire.topics import uplink_topic

pytestmark = [pytest.mark.services, pytest.mark.slow]

DAY = datetime(2026, 11, 23, tzinfo=UTC)


def day_of_readings(meter: int, *, every_min: int = 15) -> list[dict[str, Any]]:
    """A day of plausible readings of one meter (index rises a few litres each step)."""
    index = 1000 * meter
    readings = []
    for step in range(24 * 60 // every_min):
        index += (step * 7 + meter) % 40
        readings.append(encode_reading(DAY + timedelta(minutes=every_min * step), index))
    return readings


class TestEndToEnd:
    def test_a_day_of_readings_with_duplicates_and_disorder_is_stored_exactly(
        self, db, database_url, local_broker, publisher, start_worker
    ):
        serials = [f"E2E-{i:04d}" for i in range(20)]
        ids = register(db, serials)
        worker = start_worker(database_url, local_broker)
        worker.wait_subscribed()
        rng = random.Random(7)
        messages = []
        expected = {}
        for n, serial in enumerate(serials):
            readings = day_of_readings(n)
            expected[serial] = readings
            if n % 2:
                # A daily uploader: the day as batches of 24, one of them sent twice.
                chunks = [readings[i : i + 24] for i in range(0, len(readings), 24)]
                messages += [(serial, {"readings": chunk}) for chunk in chunks]
                messages.append((serial, {"readings": chunks[1]}))
            else:
                messages += [(serial, reading) for reading in readings]
                messages += [(serial, reading) for reading in rng.sample(readings, 10)]
        rng.shuffle(messages)
        wait_all([publisher.send(serial, body) for serial, body in messages])
        total = sum(len(r) for r in expected.values())
        stored = wait_for_rows(db, "SELECT count(*) FROM reading", total)
        assert stored == total
        assert worker.stop() == 0

        rows = db.execute(
            "SELECT meter_id, time, index_l FROM reading ORDER BY meter_id, time"
        ).fetchall()
        assert len(rows) == total
        for serial, readings in expected.items():
            got = [(t, i) for m, t, i in rows if m == ids[serial]]
            want = [(datetime.fromisoformat(r["time"]), r["index_l"]) for r in readings]
            assert got == want
        state = {
            m: (t, i, n)
            for m, t, i, n in db.execute(
                "SELECT meter_id, last_time, last_index_l, readings_total FROM meter_state"
            )
        }
        for serial, readings in expected.items():
            last = readings[-1]
            assert state[ids[serial]] == (
                datetime.fromisoformat(last["time"]),
                last["index_l"],
                len(readings),
            )
        pending = dict(db.execute("SELECT meter_id, since FROM rollup_pending").fetchall())
        assert pending == dict.fromkeys(ids.values(), DAY)
        assert db.execute("SELECT count(*) FROM quarantine").fetchone() == (0,)


class TestAcknowledgement:
    def test_committed_messages_are_acked_so_a_restart_gets_nothing_again(
        self, db, database_url, local_broker, publisher, start_worker
    ):
        serials = [f"ACK-{i:03d}" for i in range(10)]
        register(db, serials)
        env = {"WATERBILL_INGEST__CLIENT_ID": f"ack-{uuid.uuid4().hex[:6]}"}
        worker = start_worker(database_url, local_broker, **env)
        worker.wait_subscribed()
        messages = [(s, r) for n, s in enumerate(serials) for r in day_of_readings(n)]
        wait_all([publisher.send(serial, body) for serial, body in messages])
        assert wait_for_rows(db, "SELECT count(*) FROM reading", len(messages)) == len(messages)
        assert worker.stop() == 0

        port = free_port()
        again = start_worker(
            database_url, local_broker, WATERBILL_INGEST__METRICS_PORT=str(port), **env
        )
        again.wait_subscribed()
        time.sleep(1.0)
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        # Every message was acknowledged after its commit: the session holds nothing to redeliver.
        assert "waterbill_ingest_messages_total 0.0" in metrics
        assert again.stop() == 0


class TestMqtt311:
    def test_simulator_to_database_over_mqtt_3_1_1(
        self, db, database_url, local_broker, start_worker
    ):
        serials = [f"V311-{i}" for i in range(3)]
        register(db, serials)
        worker = start_worker(database_url, local_broker, WATERBILL_MQTT__PROTOCOL="3.1.1")
        worker.wait_subscribed()
        assert "(aiomqtt transport, MQTT 3.1.1)" in worker.log.read_text()
        settings = local_broker.settings(TEST_ACCOUNT).model_copy(update={"protocol": "3.1.1"})
        publisher = Publisher(settings, client_id=f"v311-{uuid.uuid4().hex[:6]}")
        publisher.connect()
        try:
            for n, serial in enumerate(serials):
                for reading in day_of_readings(n)[:10]:
                    topic = uplink_topic(settings.topic_prefix, settings.shards, serial)
                    assert publisher.publish(topic, orjson.dumps(reading))
            assert publisher.drain(20)
        finally:
            publisher.close()
        assert wait_for_rows(db, "SELECT count(*) FROM reading", 30) == 30
        assert worker.stop() == 0


class TestBacklogBeyondTheMemoryBound:
    @pytest.mark.parametrize(
        ("transport", "protocol"), [("aiomqtt", "5"), ("aiomqtt", "3.1.1"), ("native", "5")]
    )
    def test_a_backlog_larger_than_the_pending_bound_is_drained(
        self, db, database_url, local_broker, publisher, start_worker, transport, protocol
    ):
        serials = [f"BKL-{i:03d}" for i in range(30)]
        register(db, serials)
        env = {
            "WATERBILL_INGEST__CLIENT_ID": f"backlog-{uuid.uuid4().hex[:6]}",
            "WATERBILL_INGEST__MQTT_TRANSPORT": transport,
            "WATERBILL_MQTT__PROTOCOL": protocol,
            "WATERBILL_INGEST__MAX_PENDING_MESSAGES": "300",
        }
        worker = start_worker(database_url, local_broker, **env)
        worker.wait_subscribed()
        assert worker.stop() == 0
        messages = [(s, r) for n, s in enumerate(serials) for r in day_of_readings(n)]
        # Queued in the session while the worker is away; it comes before the SUBACK.
        wait_all([publisher.send(serial, body) for serial, body in messages])
        worker = start_worker(database_url, local_broker, **env)
        worker.wait_subscribed()
        count = wait_for_rows(db, "SELECT count(*) FROM reading", len(messages))
        assert count == len(messages)
        assert worker.stop() == 0
