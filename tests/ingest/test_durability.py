"""Crash safety and scale-out: workers as real processes, killed, restarted, split by shard.

In every scenario each published reading must end up stored exactly once: the broker redelivers
what was not acknowledged, and what was committed but not acknowledged comes back as a duplicate
that ON CONFLICT drops (``meter_state.readings_total`` counts only rows really inserted).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from pydantic import SecretStr

from core.config import Settings
from core.local_mosquitto import LocalMosquitto
from core.local_services import LocalPostgres
from core.migrate import upgrade
from tests.broker import suite_broker
from tests.ingest.conftest import Publisher, register, wait_all, wait_for_rows
from wire.codec import encode_reading
from wire.topics import shard_of

pytestmark = [pytest.mark.services, pytest.mark.slow]

T0 = datetime(2026, 11, 20, tzinfo=UTC)
COUNT = "SELECT count(*) FROM reading"


def plan(serials: list[str], per_meter: int) -> list[tuple[str, dict[str, object]]]:
    """Readings every 15 minutes per meter, interleaved across meters as a fleet sends them."""
    return [
        (serial, encode_reading(T0 + timedelta(minutes=15 * step), 10 * step + n))
        for step in range(per_meter)
        for n, serial in enumerate(serials)
    ]


def publish_in_background(broker: LocalMosquitto, messages, *, rate: float) -> threading.Thread:
    """Publish at about ``rate`` messages/s from a thread; the thread ends once all are acked."""

    def work() -> None:
        publisher = Publisher(broker)
        infos = []
        started = time.monotonic()
        for count, (serial, body) in enumerate(messages, 1):
            infos.append(publisher.send(serial, body))
            if count % 100 == 0:
                time.sleep(max(0.0, started + count / rate - time.monotonic()))
        wait_all(infos)
        publisher.close()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def assert_stored_exactly_once(db: psycopg.Connection, expected: int) -> None:
    assert wait_for_rows(db, COUNT, expected) == expected
    time.sleep(0.5)  # anything redelivered late would show up now
    assert db.execute(COUNT).fetchone() == (expected,)
    assert db.execute("SELECT sum(readings_total) FROM meter_state").fetchone() == (expected,)
    assert db.execute("SELECT count(*) FROM quarantine").fetchone() == (0,)


class TestWorkerKilled:
    @pytest.mark.parametrize(
        ("transport", "protocol"), [("aiomqtt", "5"), ("aiomqtt", "3.1.1"), ("native", "5")]
    )
    def test_kill_9_repeatedly_while_publishing_loses_and_doubles_nothing(
        self, db, database_url, local_broker, start_worker, transport, protocol
    ):
        serials = [f"KILL-{i:03d}" for i in range(40)]
        register(db, serials)
        messages = plan(serials, 150)
        env = {
            "WATERBILL_INGEST__CLIENT_ID": f"kill-{uuid.uuid4().hex[:6]}",
            "WATERBILL_INGEST__MQTT_TRANSPORT": transport,
            "WATERBILL_MQTT__PROTOCOL": protocol,
        }
        worker = start_worker(database_url, local_broker, **env)
        worker.wait_subscribed()
        assert f"({transport} transport, MQTT {protocol})" in worker.log.read_text()
        publishing = publish_in_background(local_broker, messages, rate=1500)
        rng = random.Random(3)
        kills = 0
        while publishing.is_alive() or kills < 3:
            time.sleep(rng.uniform(0.3, 0.9))
            worker.kill()
            kills += 1
            worker = start_worker(database_url, local_broker, **env)
            worker.wait_subscribed()
        publishing.join()
        assert_stored_exactly_once(db, len(messages))
        assert worker.stop() == 0


class TestBrokerRestart:
    def test_broker_restart_during_ingest_loses_nothing(
        self, db, database_url, start_worker, tmp_path
    ):
        serials = [f"BRK-{i:03d}" for i in range(40)]
        register(db, serials)
        messages = plan(serials, 100)
        half = len(messages) // 2
        with suite_broker(root=tmp_path / "broker") as broker:
            worker = start_worker(database_url, broker)
            worker.wait_subscribed()
            publisher = Publisher(broker)
            wait_all([publisher.send(s, b) for s, b in messages[:half]])
            publisher.close()
            broker.restart()
            worker.wait_subscribed(times=2)
            publisher = Publisher(broker)
            wait_all([publisher.send(s, b) for s, b in messages[half:]])
            publisher.close()
            assert_stored_exactly_once(db, len(messages))
            assert worker.stop() == 0


@pytest.fixture
def crashable_pg() -> Iterator[LocalPostgres]:
    """A database server of this test's own, since the test crashes it."""
    # In a directory of its own (not tmp_path): the server's account must reach it.
    with LocalPostgres(
        durable=False,
        extra_conf={"timescaledb.max_background_workers": "0"},
    ) as server:
        upgrade(Settings(database_url=SecretStr(server.url("waterbill"))))
        yield server


class TestDatabaseRestart:
    def test_database_crash_during_ingest_loses_nothing(
        self, crashable_pg, local_broker, start_worker
    ):
        url = crashable_pg.url("waterbill")
        serials = [f"DBX-{i:03d}" for i in range(40)]
        with psycopg.connect(url, autocommit=True) as db:
            register(db, serials)
        messages = plan(serials, 150)
        worker = start_worker(url, local_broker, WATERBILL_INGEST__BATCH_SIZE="500")
        worker.wait_subscribed()
        publishing = publish_in_background(local_broker, messages, rate=2000)
        with psycopg.connect(url, autocommit=True) as db:
            wait_for_rows(db, COUNT, len(messages) // 4)
        crashable_pg.restart(mode="immediate")
        publishing.join()
        with psycopg.connect(url, autocommit=True) as db:
            assert_stored_exactly_once(db, len(messages))
        assert worker.stop() == 0
        assert "database unavailable" in worker.log.read_text()


class TestShardSplit:
    def test_two_workers_split_the_shards_without_loss_or_duplicates(
        self, db, database_url, local_broker, start_worker
    ):
        serials = [f"SPL-{i:03d}" for i in range(64)]
        register(db, serials)
        low = {s for s in serials if shard_of(s, 16) < 8}
        assert 0 < len(low) < len(serials)
        messages = plan(serials, 60)
        base = f"split-{uuid.uuid4().hex[:6]}"
        env = {"WATERBILL_INGEST__CLIENT_ID": base}
        first = start_worker(database_url, local_broker, "--shards", "0-7", **env)
        second = start_worker(database_url, local_broker, "--shards", "8-15", **env)
        first.wait_subscribed()
        second.wait_subscribed()
        assert second.stop() == 0

        publisher = Publisher(local_broker)
        wait_all([publisher.send(s, b) for s, b in messages])
        low_count = sum(1 for s, _ in messages if s in low)
        assert wait_for_rows(db, COUNT, low_count) == low_count
        time.sleep(0.5)
        # Only the running worker's shards are in; the others wait in the stopped one's session.
        assert db.execute(COUNT).fetchone() == (low_count,)

        second = start_worker(database_url, local_broker, "--shards", "8-15", **env)
        second.wait_subscribed()
        more = plan(serials, 80)[len(messages) :]
        wait_all([publisher.send(s, b) for s, b in more])
        publisher.close()
        assert_stored_exactly_once(db, len(messages) + len(more))
        assert first.stop() == 0
        assert second.stop() == 0
        assert f"{base}-0-7 subscribed" in first.log.read_text()
        assert f"{base}-8-15 subscribed" in second.log.read_text()
