"""Ingest fixtures: registered meters, a paho publisher, and ``python -m cli ingest`` workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from core.broker_auth import INGEST_ACCOUNT, TEST_ACCOUNT
from core.local_mosquitto import LocalMosquitto
from ingest.mqtt import MqttSubscriber, Transport
from ingest.mqtt_aiomqtt import AiomqttSubscriber
from tests.broker import login
from wire.topics import uplink_topic

ROOT = Path(__file__).resolve().parents[2]


TRANSPORTS: dict[str, Transport] = {"aiomqtt": AiomqttSubscriber, "native": MqttSubscriber}


@pytest.fixture(params=list(TRANSPORTS))
def transport(request: pytest.FixtureRequest) -> Transport:
    """Each MQTT transport of the worker in turn (``WATERBILL_INGEST__MQTT_TRANSPORT``)."""
    return TRANSPORTS[request.param]


def register(db: psycopg.Connection, serials: Iterable[str], *, digits: int = 9) -> dict[str, int]:
    """Meters inserted straight into the table: serial -> id."""
    ids = {}
    for serial in serials:
        row = db.execute(
            "INSERT INTO meter (serial, kind, installed_at, register_digits)"
            " VALUES (%s, 'iot', '2020-01-01T00:00:00Z', %s) RETURNING id",
            [serial, digits],
        ).fetchone()
        assert row is not None
        ids[serial] = row[0]
    return ids


class Publisher:
    """A paho MQTT v5 client publishing QoS 1 and waiting for the broker's PUBACKs."""

    def __init__(
        self,
        broker: LocalMosquitto,
        *,
        prefix: str = "wb",
        shards: int = 16,
        username: str = TEST_ACCOUNT,
        password: str | None = None,
    ) -> None:
        self.prefix = prefix
        self.shards = shards
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"pub-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        if password is None:
            login(self.client, broker, username)
        else:
            self.client.username_pw_set(username, password)
        self.client.max_queued_messages_set(0)
        self.client.max_inflight_messages_set(1000)
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()

    def topic(self, serial: str) -> str:
        return uplink_topic(self.prefix, self.shards, serial)

    def send(self, serial: str, body: Any) -> mqtt.MQTTMessageInfo:
        payload = body if isinstance(body, bytes) else orjson.dumps(body)
        return self.client.publish(self.topic(serial), payload, qos=1)

    def send_raw(self, topic: str, payload: bytes) -> mqtt.MQTTMessageInfo:
        return self.client.publish(topic, payload, qos=1)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class ManualClock:
    """A monotonic clock the test moves by hand (``clock.now += 30``), for rate limits."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def publisher(local_broker) -> Iterator[Publisher]:
    pub = Publisher(local_broker)
    yield pub
    pub.close()


def wait_all(infos: list[mqtt.MQTTMessageInfo], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    for info in infos:
        info.wait_for_publish(max(0.1, deadline - time.monotonic()))
        assert info.is_published()


@dataclass
class Worker:
    """A ``python -m cli ingest`` subprocess with its log file."""

    process: subprocess.Popen[bytes]
    log: Path

    def wait_subscribed(self, times: int = 1, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log.read_text().count("subscribed to shards") >= times:
                return
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            time.sleep(0.05)
        raise AssertionError(f"worker did not subscribe:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
        return self.process.returncode

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


def worker_env(database_url: str, broker: LocalMosquitto, **extra: str) -> dict[str, str]:
    """The worker logs in with the ingest service account (``extra`` may override it)."""
    password = broker.settings(INGEST_ACCOUNT).password
    assert password is not None
    env = {
        **os.environ,
        "WATERBILL_DATABASE_URL": database_url,
        "WATERBILL_MQTT__PORT": str(broker.port),
        "WATERBILL_MQTT__USERNAME": INGEST_ACCOUNT,
        "WATERBILL_MQTT__PASSWORD": password.get_secret_value(),
        "WATERBILL_ENVIRONMENT": "test",
        "WATERBILL_LOG_LEVEL": "INFO",
        **extra,
    }
    return env


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Any]:
    """Start ``python -m cli ingest`` workers; any still running are stopped at the end."""
    started: list[Worker] = []

    def start(database_url: str, broker: LocalMosquitto, *args: str, **env: str) -> Worker:
        env.setdefault("WATERBILL_INGEST__CLIENT_ID", f"ingest-{uuid.uuid4().hex[:8]}")
        log = tmp_path / f"worker-{len(started)}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "cli", "ingest", *args],
                env=worker_env(database_url, broker, **env),
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        worker = Worker(process, log)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.process.poll() is None:
            worker.kill()


def wait_for_rows(db: psycopg.Connection, query: str, expected: int, timeout: float = 60) -> int:
    """Poll ``query`` (a count) until it reaches ``expected`` or the time runs out."""
    deadline = time.monotonic() + timeout
    count = -1
    while time.monotonic() < deadline:
        row = db.execute(query).fetchone()
        count = row[0] if row else -1
        if count >= expected:
            return count
        time.sleep(0.1)
    return count
