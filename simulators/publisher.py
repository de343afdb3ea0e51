"""Publishing the fleet's messages over MQTT v5 (paho-mqtt 2), QoS 1, acknowledged.

``Publisher`` keeps at most ``max_inflight`` messages waiting for their PUBACK and reconnects by
itself (paho's network thread); ``run_stream`` drives one publisher over a fleet's message
stream in one of three modes (backfill, realtime, load), and ``run_load`` spreads it over
several processes, since one Python paho publisher tops out around 11k msg/s. Given the meters'
credentials (issued at registration), each meter publishes over its own login and connection,
as a real device does; without them one service-account connection carries every meter.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import SecretStr

from core.config import MqttSettings
from core.config_mqtt import client_ssl_context
from simulators.anomalies import Injection
from simulators.fleet import Fleet, FleetConfig, deliver
from wire.topics import serial_from_topic

logger = logging.getLogger(__name__)

# Window of unacknowledged messages. Measured on loopback (one paho publisher, 50k messages):
# ~15-20k msg/s at 100 in flight, ~7-9k at 1000 (paho walks its in-flight list on each ack),
# and a small window leaves little to resend after a broker restart.
DEFAULT_MAX_INFLIGHT = 100
# The broker keeps our session (and the QoS 1 messages in flight) over a short disconnect.
SESSION_EXPIRY_S = 300


class StopFlag(Protocol):
    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class PublishError(RuntimeError):
    """The broker could not be reached or did not acknowledge in time."""


@dataclass
class PublishStats:
    sent: int = 0
    acked: int = 0
    readings: int = 0
    seconds: float = 0.0
    reconnects: int = 0

    def add(self, other: PublishStats) -> None:
        self.sent += other.sent
        self.acked += other.acked
        self.readings += other.readings
        self.reconnects += other.reconnects
        self.seconds = max(self.seconds, other.seconds)

    @property
    def rate(self) -> float:
        return self.acked / self.seconds if self.seconds > 0 else 0.0


class Publisher:
    """One MQTT connection (version ``settings.protocol``) publishing at QoS 1 with a bounded
    window of unacked messages; ``session_expiry_s`` 0 leaves no session at the broker."""

    def __init__(
        self,
        settings: MqttSettings,
        *,
        client_id: str,
        max_inflight: int = DEFAULT_MAX_INFLIGHT,
        session_expiry_s: int = SESSION_EXPIRY_S,
    ) -> None:
        self.settings = settings
        self.session_expiry_s = session_expiry_s
        self.v5 = settings.protocol == "5"
        self.stats = PublishStats()
        self._window = threading.BoundedSemaphore(max_inflight)
        self._connected = threading.Event()
        self._lock = threading.Lock()
        self._pending: set[int] = set()
        self._early_acks: set[int] = set()
        self._ever_connected = False
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5 if self.v5 else mqtt.MQTTv311,
            # 3.1.1 has no session expiry: a session, or none.
            clean_session=None if self.v5 else session_expiry_s == 0,
        )
        if settings.username:
            password = settings.password.get_secret_value() if settings.password else None
            client.username_pw_set(settings.username, password)
        if (tls := client_ssl_context(settings)) is not None:
            client.tls_set_context(tls)
        client.max_inflight_messages_set(max_inflight)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(min_delay=1, max_delay=5)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self._client = client

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            logger.warning("MQTT connection refused: %s", reason)
            return
        if self._ever_connected:
            self.stats.reconnects += 1
            logger.info("MQTT reconnected to %s:%d", self.settings.host, self.settings.port)
        self._ever_connected = True
        self._connected.set()

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._connected.clear()
        if reason.is_failure:
            logger.warning("MQTT connection lost (%s); paho reconnects", reason)

    def _on_publish(self, _c: Any, _u: Any, mid: int, _r: Any, _p: Any) -> None:
        # The PUBACK can beat publish() returning its mid: remember it until it does.
        with self._lock:
            if mid in self._pending:
                self._pending.discard(mid)
            else:
                self._early_acks.add(mid)
                return
        self.stats.acked += 1
        self._window.release()

    def connect(self, timeout: float = 10.0) -> None:
        properties = None
        if self.v5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = self.session_expiry_s
        self._client.connect_async(
            self.settings.host, self.settings.port, keepalive=30, properties=properties
        )
        self._client.loop_start()
        if not self._connected.wait(timeout):
            self.close()
            raise PublishError(
                f"no MQTT broker answered at {self.settings.host}:{self.settings.port}"
                f" within {timeout:.0f} s"
            )

    def publish(self, topic: str, payload: bytes, stop: StopFlag | None = None) -> bool:
        """Send one message; blocks while the window is full. False if stopped while waiting."""
        while not self._window.acquire(timeout=0.2):
            if stop is not None and stop.is_set():
                return False
        info = self._client.publish(topic, payload, qos=1)
        with self._lock:
            if info.mid in self._early_acks:
                self._early_acks.discard(info.mid)
                early = True
            else:
                self._pending.add(info.mid)
                early = False
        self.stats.sent += 1
        if early:
            self.stats.acked += 1
            self._window.release()
        return True

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every message sent so far is acknowledged."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._pending:
                    return True
            time.sleep(0.01)
        return False

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        # Our callbacks make a reference cycle with the client; broken here, the client is freed
        # (and its wake-up socket pair closed by its __del__) as soon as we let go of it.
        self._client.on_connect = None
        self._client.on_disconnect = None
        self._client.on_publish = None


@dataclass(frozen=True)
class StreamPlan:
    """Which messages one publisher sends, and how fast.

    Args:
        start: true time (epoch s) of the first reading.
        end: last reading time (epoch s); None runs on (realtime) or until ``max_messages``.
        realtime: send each upload when the simulated clock reaches it.
        speed: simulated seconds per real second while the clock is behind the wall clock;
            the simulated clock never runs ahead of it (ingest rejects future readings).
        max_messages: stop after this many messages (load mode's backlog).
        rate: messages per second for this publisher (load mode), None for as fast as possible.
    """

    start: float
    end: float | None = None
    realtime: bool = False
    speed: float = 1.0
    max_messages: int | None = None
    rate: float | None = None
    report_every_s: float = 10.0


@dataclass(frozen=True)
class PublisherJob:
    fleet: FleetConfig
    plan: StreamPlan
    mqtt: MqttSettings
    index: int = 0
    count: int = 1
    client_id: str = "waterbill-sim"
    max_inflight: int = DEFAULT_MAX_INFLIGHT
    injection: Injection = field(default_factory=Injection)
    # Serial -> broker password: each meter then publishes as itself.
    credentials: Mapping[str, str] = field(default_factory=dict)

    def fleet_numbers(self) -> np.ndarray[Any, np.dtype[np.int64]]:
        """This publisher's share of the meters: every ``count``-th from ``index``."""
        return np.arange(1, self.fleet.meters + 1, dtype=np.int64)[self.index :: self.count]


def _messages(fleet: Fleet, plan: StreamPlan, stop: StopFlag) -> Iterator[tuple[str, bytes, int]]:
    """(topic, payload, readings) in sending order, pacing uploads in realtime mode."""
    first = fleet.slot_of(plan.start + fleet.config.upload_period_s)
    last = None if plan.end is None else fleet.slot_of(plan.end)
    wall0, sim0 = time.time(), plan.start
    for uploads in fleet.uploads(first, last):
        for upload in uploads:
            if plan.realtime:
                while not stop.is_set():
                    wall = time.time()
                    sim = min(wall, sim0 + (wall - wall0) * plan.speed)
                    ahead = upload.send_at - sim
                    if ahead <= 0:
                        break
                    speed = plan.speed if sim < wall else 1.0
                    stop.wait(min(ahead / speed, 0.5))
            if stop.is_set():
                return
            yield upload.topic, upload.payload, len(upload.readings)


def run_stream(job: PublisherJob, stop: StopFlag) -> PublishStats:
    """Publish one publisher's share of the fleet according to the plan; stats when done."""
    fleet = Fleet(
        job.fleet,
        job.fleet_numbers(),
        modifiers=job.injection.modifiers,
        faults=job.injection.faults,
    )
    cfg = job.fleet
    readings_of: dict[tuple[str, bytes], int] = {}

    def source() -> Iterator[tuple[str, bytes]]:
        for topic, payload, readings in _messages(fleet, job.plan, stop):
            readings_of[(topic, payload)] = readings
            yield topic, payload

    stream = deliver(
        source(),
        duplicate_p=cfg.duplicate_p,
        out_of_order_p=cfg.out_of_order_p,
        window=cfg.reorder_window,
        seed=cfg.seed * 1000 + job.index,
    )
    limit = job.plan.max_messages
    if limit is not None:
        stream = itertools.islice(stream, limit)
    publishers = _Publishers(job)
    stats = PublishStats()
    started = time.monotonic()
    last_report = started
    try:
        for topic, payload in stream:
            if job.plan.rate:
                due = started + stats.sent / job.plan.rate
                delay = due - time.monotonic()
                if delay > 0 and stop.wait(delay):
                    break
            if not publishers.for_topic(topic).publish(topic, payload, stop):
                break
            stats.sent += 1
            stats.readings += readings_of.pop((topic, payload), 0)
            if time.monotonic() - last_report >= job.plan.report_every_s:
                last_report = time.monotonic()
                logger.info(
                    "publisher %d: %d messages sent, %d acked, %.0f msg/s",
                    job.index,
                    stats.sent,
                    publishers.acked(),
                    publishers.acked() / (last_report - started),
                )
            if stop.is_set():
                break
        if not publishers.drain():
            logger.warning("publisher %d: some messages were not acknowledged", job.index)
    finally:
        publishers.close()
    total = publishers.stats(readings=stats.readings)
    total.seconds = time.monotonic() - started
    return total


class _Publishers:
    """One shared connection, or one per meter when the job has the meters' credentials."""

    def __init__(self, job: PublisherJob) -> None:
        self.job = job
        self._by_serial: dict[str | None, Publisher] = {}
        if not job.credentials:
            self._connect(None)  # an unreachable broker fails the job before its first message

    def _connect(self, key: str | None) -> Publisher:
        settings, client_id = self.job.mqtt, f"{self.job.client_id}-{self.job.index}"
        if key is not None:
            password = SecretStr(self.job.credentials[key])
            settings = settings.model_copy(update={"username": key, "password": password})
            client_id = f"{self.job.client_id}-{key}"
        # A meter leaves no session: Mosquitto 2.0.11 corrupts itself when a reload finds an
        # offline session whose password changed (docs/deploy.md); paho resends unacked ones.
        publisher = Publisher(
            settings,
            client_id=client_id,
            max_inflight=self.job.max_inflight,
            session_expiry_s=SESSION_EXPIRY_S if key is None else 0,
        )
        publisher.connect()
        self._by_serial[key] = publisher
        return publisher

    def for_topic(self, topic: str) -> Publisher:
        serial = serial_from_topic(self.job.mqtt.topic_prefix, topic)
        key = serial if serial in self.job.credentials else None
        return self._by_serial.get(key) or self._connect(key)

    def acked(self) -> int:
        return sum(p.stats.acked for p in self._by_serial.values())

    def drain(self) -> bool:
        return all(p.drain() for p in self._by_serial.values())

    def stats(self, *, readings: int) -> PublishStats:
        total = PublishStats(readings=readings)
        for publisher in self._by_serial.values():
            total.sent += publisher.stats.sent
            total.acked += publisher.stats.acked
            total.reconnects += publisher.stats.reconnects
        return total

    def close(self) -> None:
        for publisher in self._by_serial.values():
            publisher.close()
