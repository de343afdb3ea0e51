"""What the worker says about the broker's side: a lost session (CONNACK Session Present = 0 on a
reconnect) and messages on topics no worker serves are logged and counted, never silent."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from core.local_mosquitto import LocalMosquitto
from core.local_services import free_port
from tests.broker import suite_broker
from tests.ingest.conftest import register, wait_all, wait_for_rows
from wire.codec import encode_reading

pytestmark = pytest.mark.services

T = datetime(2026, 11, 20, tzinfo=UTC)
LOST = "lost the session"
WATCHING = "counts messages on topics no shard covers"


def metric(port: int, name: str) -> float:
    """A counter's value on the worker's /metrics (0 until it is first exposed)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    return 0.0


def wait_metric(port: int, name: str, expected: float, timeout: float = 20) -> float:
    deadline = time.monotonic() + timeout
    value = metric(port, name)
    while value < expected and time.monotonic() < deadline:
        time.sleep(0.1)
        value = metric(port, name)
    return value


@pytest.fixture
def forgetful_broker(tmp_path: Path) -> Iterator[LocalMosquitto]:
    """A broker without persistence: a restart forgets every session."""
    with suite_broker(root=tmp_path / "forgetful", persistence=False) as broker:
        yield broker


class TestSessionPresent:
    @pytest.mark.parametrize(
        ("transport", "protocol"), [("aiomqtt", "5"), ("aiomqtt", "3.1.1"), ("native", "5")]
    )
    def test_a_broker_that_lost_the_session_is_an_error_and_counted(
        self, database_url, forgetful_broker, start_worker, transport, protocol
    ):
        port = free_port()
        worker = start_worker(
            database_url,
            forgetful_broker,
            WATERBILL_INGEST__METRICS_PORT=str(port),
            WATERBILL_INGEST__MQTT_TRANSPORT=transport,
            WATERBILL_MQTT__PROTOCOL=protocol,
        )
        worker.wait_subscribed()
        assert LOST not in worker.log.read_text()
        forgetful_broker.restart()
        worker.wait_subscribed(times=2)
        assert wait_metric(port, "waterbill_ingest_sessions_lost_total", 1) == 1
        assert worker.stop() == 0
        errors = [line for line in worker.log.read_text().splitlines() if LOST in line]
        assert len(errors) == 1
        assert "ERROR" in errors[0]
        assert "Session Present = 0" in errors[0]

    def test_a_broker_that_kept_the_session_is_resumed_quietly(
        self, database_url, own_broker, start_worker
    ):
        port = free_port()
        worker = start_worker(database_url, own_broker, WATERBILL_INGEST__METRICS_PORT=str(port))
        worker.wait_subscribed()
        own_broker.restart()  # a clean stop saves the sessions
        worker.wait_subscribed(times=2)
        assert metric(port, "waterbill_ingest_sessions_lost_total") == 0
        assert worker.stop() == 0
        assert LOST not in worker.log.read_text()


class TestUnservedTopics:
    def test_messages_no_shard_covers_are_counted_and_logged(
        self, db, database_url, local_broker, publisher, start_worker
    ):
        register(db, ["UNSERVED-1"])
        port = free_port()
        worker = start_worker(database_url, local_broker, WATERBILL_INGEST__METRICS_PORT=str(port))
        worker.wait_subscribed()
        reading = encode_reading(T, 5)
        wait_all(
            [
                publisher.send_raw("wb/99/meters/UNSERVED-1/up", b"{}"),  # shard out of range
                publisher.send_raw("wb/3/meters/UNSERVED-1/down", b"{}"),
                publisher.send_raw("wb/status", b"{}"),
                publisher.send("UNSERVED-1", reading),  # served: stored, not counted
            ]
        )
        assert wait_metric(port, "waterbill_ingest_unserved_messages_total", 3) == 3
        assert wait_for_rows(db, "SELECT count(*) FROM reading", 1) == 1
        assert worker.stop() == 0
        assert counted_in_log(worker.log.read_text()) == 3
        assert db.execute("SELECT count(*) FROM quarantine").fetchone() == (0,)

    def test_only_the_worker_of_shard_0_watches(self, database_url, local_broker, start_worker):
        watching = start_worker(database_url, local_broker, "--shards", "0-7")
        other = start_worker(database_url, local_broker, "--shards", "8-15")
        watching.wait_subscribed()
        other.wait_subscribed()
        assert watching.stop() == other.stop() == 0
        assert WATCHING in watching.log.read_text()
        assert WATCHING not in other.log.read_text()


def counted_in_log(log: str) -> int:
    """The messages counted by the worker's rate-limited WARNING lines about unserved topics."""
    counts = [int(n) for n in re.findall(r"(\d+) messages? on topics no ingest worker serves", log)]
    assert 1 <= len(counts) <= 2, counts
    return sum(counts)
