"""The ingest worker: MQTT v5 persistent session in, batches out, PUBACK only after COMMIT.

Durability: a fixed client id per shard set, no clean start and a session expiry interval make
the broker queue readings while the worker is away; QoS 1 messages are acknowledged through
aiomqtt's paho client in manual-ack mode only once their batch has committed, so a crash at any
point makes the broker redeliver what was not committed (and ON CONFLICT drops what was).

Scale-out is a static split of the ``<shard>`` topic level between workers, never a shared
subscription (those lose messages with persistent sessions, eclipse-mosquitto/mosquitto#2662).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from typing import Any

import aiomqtt
import psycopg
from paho.mqtt import _packet as paho_packet
from paho.mqtt.client import PUBACK
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from core.config import Settings
from ingest import metrics
from ingest.decoder import Reason, Rejection
from ingest.payload import subscription_topic
from ingest.repository import IngestRepository
from ingest.service import (
    BatchResult,
    Limits,
    Message,
    MeterDirectory,
    quarantine_row,
    receive,
    record_messages,
)

logger = logging.getLogger(__name__)

# PUBACK with only a packet id: MQTT v5 allows leaving out the reason code when it is Success.
_PUBACK = struct.Struct("!BBH")

# First wait after a failed connection; doubled up to ingest.reconnect_max_s.
INITIAL_BACKOFF_S = 0.2


class _SharedTableProperties(Properties):
    """paho's MQTT v5 Properties with its lookup tables built once instead of per message.

    paho decodes every PUBLISH into a new ``Properties``, whose constructor rebuilds two
    ~30-entry tables: a third of the worker's CPU when draining single-reading messages (py-spy,
    bench/ingest.py). The tables are only read after construction, so instances can share them.
    """

    _template = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]

    def __init__(self, packetType: int) -> None:
        object.__setattr__(self, "packetType", packetType)
        object.__setattr__(self, "types", self._template.types)
        object.__setattr__(self, "names", self._template.names)
        object.__setattr__(self, "properties", self._template.properties)

    def clear(self) -> None:
        """Drop the properties set (paho's walks every known name, and runs for each message)."""
        for name in [name for name in vars(self) if name not in _TABLES]:
            delattr(self, name)


_TABLES = frozenset({"packetType", "types", "names", "properties"})


setattr(paho_packet, "Properties", _SharedTableProperties)  # noqa: B010 (a module global)


def parse_shards(spec: str, total: int) -> list[int]:
    """``all`` or a list of shards and ranges (``0-7,9``) -> sorted shard numbers."""
    if spec.strip() == "all":
        return list(range(total))
    shards: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        low, _, high = part.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            raise ValueError(f"shard list {spec!r}: {part!r} is not a number or a range a-b")
        first, last = int(low), int(high or low)
        if first > last or last >= total:
            raise ValueError(f"shard list {spec!r}: {part!r} is outside 0-{total - 1}")
        shards.update(range(first, last + 1))
    return sorted(shards)


def shard_label(shards: list[int]) -> str:
    """Compact ranges (``0-7,9``): the part of the client id that names the shard set."""
    parts: list[str] = []
    start = previous = shards[0]
    for shard in [*shards[1:], None]:
        if shard is not None and shard == previous + 1:
            previous = shard
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if shard is not None:
            start = previous = shard
    return ",".join(parts)


def client_id(base: str, shards: list[int]) -> str:
    """One persistent session per shard set: two workers never share (and steal) a session."""
    return f"{base}-{shard_label(shards)}"


class Worker:
    """One ingest worker process's loop (see module docstring)."""

    def __init__(self, settings: Settings, *, shards: list[int]) -> None:
        self.settings = settings
        self.shards = shards
        self.client_id = client_id(settings.ingest.client_id, shards)
        self.limits = Limits(
            topic_prefix=settings.mqtt.topic_prefix,
            max_future_s=settings.ingest.max_future_s,
            max_flow_lph=settings.ingest.max_flow_lph,
        )
        self.meters = MeterDirectory()
        self._conn: psycopg.AsyncConnection[Any] | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set, reconnecting to the broker with backoff."""
        backoff = INITIAL_BACKOFF_S
        try:
            while not stop.is_set():
                try:
                    await self._session(stop)
                    backoff = INITIAL_BACKOFF_S
                except aiomqtt.MqttError as exc:
                    logger.warning("MQTT connection lost (%s); retrying in %.1f s", exc, backoff)
                    await _sleep_unless(stop, backoff)
                    backoff = min(backoff * 2, self.settings.ingest.reconnect_max_s)
        finally:
            if self._conn is not None:
                await self._conn.close()
        logger.info("ingest worker %s stopped", self.client_id)

    def _client(self) -> aiomqtt.Client:
        mqtt = self.settings.mqtt
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self.settings.ingest.session_expiry_s
        properties.ReceiveMaximum = self.settings.ingest.receive_maximum
        client = aiomqtt.Client(
            mqtt.host,
            mqtt.port,
            username=mqtt.username,
            password=mqtt.password.get_secret_value() if mqtt.password else None,
            identifier=self.client_id,
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=False,
            properties=properties,
            keepalive=30,
        )
        # aiomqtt acks QoS 1 on receipt; its paho client can leave that to us (after COMMIT).
        client._client.manual_ack_set(True)
        return client

    async def _session(self, stop: asyncio.Event) -> None:
        client = self._client()
        async with client:
            topics = [
                (
                    subscription_topic(self.settings.mqtt.topic_prefix, shard),
                    SubscribeOptions(qos=1),
                )
                for shard in self.shards
            ]
            await client.subscribe(topics)
            logger.info(
                "ingest worker %s subscribed to shards %s", self.client_id, shard_label(self.shards)
            )
            await self._consume(client, stop)

    async def _consume(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        pending: list[tuple[int, int, Message]] = []
        counted = [0]
        full = asyncio.Event()
        batch_size = self.settings.ingest.batch_size
        queue = client._queue  # drained without a task per message when it is not empty

        async def take_messages() -> None:
            messages = aiomqtt.client.MessagesIterator(client)
            limits = self.limits
            while True:
                raw = queue.get_nowait() if not queue.empty() else await anext(messages)
                topic = raw.topic.value
                message = receive(topic, raw.payload, limits=limits)
                pending.append((raw.mid, raw.qos, message))
                counted[0] += 1 if isinstance(message.rows, Rejection) else len(message.rows)
                if counted[0] >= batch_size:
                    full.set()
                    # Yield so the writer runs; the broker's Receive Maximum bounds the rest.
                    await asyncio.sleep(0)

        receiver = asyncio.create_task(take_messages())
        stopping = asyncio.create_task(stop.wait())
        interval = self.settings.ingest.batch_interval_ms / 1000
        try:
            while True:
                full_wait = asyncio.create_task(full.wait())
                await asyncio.wait(
                    [receiver, stopping, full_wait],
                    timeout=interval,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                full_wait.cancel()
                if receiver.done():
                    # Connection lost: what is pending was never acked and will come again.
                    receiver.result()
                if stop.is_set():
                    receiver.cancel()
                    while pending:
                        await self._flush(client, pending, counted, stop)
                    return
                metrics.QUEUE_DEPTH.set(len(pending) + queue.qsize())
                await self._flush(client, pending, counted, stop)
                if counted[0] < batch_size:
                    full.clear()
        finally:
            receiver.cancel()
            stopping.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await receiver

    async def _flush(
        self,
        client: aiomqtt.Client,
        pending: list[tuple[int, int, Message]],
        counted: list[int],
        stop: asyncio.Event,
    ) -> None:
        """Write up to one batch from the head of ``pending``, commit, then ack it."""
        if not pending:
            return
        batch_size = self.settings.ingest.batch_size
        taken = readings = 0
        for _, _, message in pending:
            readings += 1 if isinstance(message.rows, Rejection) else len(message.rows)
            taken += 1
            if readings >= batch_size:
                break
        batch = pending[:taken]
        del pending[:taken]
        counted[0] -= readings
        started = time.perf_counter()
        result = await self._write([message for _, _, message in batch], stop)
        if result is None:
            return
        metrics.COMMIT_SECONDS.observe(time.perf_counter() - started)
        _ack(client, [mid for mid, qos, _ in batch if qos == 1])
        _count(result)

    async def _write(self, messages: list[Message], stop: asyncio.Event) -> BatchResult | None:
        """Write a batch, retrying through database outages; None when stopped meanwhile."""
        backoff = INITIAL_BACKOFF_S
        while True:
            try:
                conn = await self._connection()
                try:
                    async with conn.transaction():
                        return await record_messages(
                            IngestRepository(conn),
                            messages=messages,
                            limits=self.limits,
                            meters=self.meters,
                        )
                except psycopg.OperationalError:
                    raise
                except psycopg.Error:
                    logger.exception(
                        "batch of %d messages failed; writing one by one", len(messages)
                    )
                    return await self._write_one_by_one(conn, messages)
            except psycopg.OperationalError as exc:
                metrics.DB_ERRORS.inc()
                logger.warning("database unavailable (%s); retrying in %.1f s", exc, backoff)
                await self._drop_connection()
                if stop.is_set():
                    # Stopping: leave the batch unacked, the broker will deliver it again.
                    return None
                await _sleep_unless(stop, backoff)
                backoff = min(backoff * 2, self.settings.ingest.reconnect_max_s)

    async def _write_one_by_one(
        self, conn: psycopg.AsyncConnection[Any], messages: list[Message]
    ) -> BatchResult:
        """Isolate a message the database refuses (a poison pill must not stall the shard)."""
        total = BatchResult(messages=len(messages))
        for position, message in enumerate(messages):
            try:
                async with conn.transaction():
                    result = await record_messages(
                        IngestRepository(conn),
                        messages=[message],
                        limits=self.limits,
                        meters=self.meters,
                    )
            except psycopg.OperationalError:
                raise
            except psycopg.Error as exc:
                rejection = Rejection(Reason.STORE_FAILED, str(exc)[:500])
                async with conn.transaction():
                    await IngestRepository(conn).quarantine([quarantine_row(message, rejection)])
                total.rejected[position] = rejection
                continue
            total.staged += result.staged
            total.stored += result.stored
            if 0 in result.rejected:
                total.rejected[position] = result.rejected[0]
            if result.latest_time and (
                total.latest_time is None or result.latest_time > total.latest_time
            ):
                total.latest_time = result.latest_time
        return total

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(
                self.settings.database_url, connect_timeout=5
            )
            async with self._conn.transaction():
                await IngestRepository(self._conn).create_stage()
        return self._conn

    async def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                await self._conn.close()
            self._conn = None


def _ack(client: aiomqtt.Client, mids: list[int]) -> None:
    """PUBACK these messages, all in one write.

    ``paho.ack(mid, 1)`` queues one 4-byte packet and one socket write per message; at tens of
    thousands of messages a second that is a visible share of the worker. The same bytes go in
    one packet of paho's queue, written (and reset on reconnection) exactly like its own.
    """
    if mids:
        blob = b"".join([_PUBACK.pack(PUBACK, 2, mid) for mid in mids])
        client._client._packet_queue(PUBACK, blob, 0, 1)


def _count(result: BatchResult) -> None:
    metrics.MESSAGES.inc(result.messages)
    metrics.READINGS_STORED.inc(result.stored)
    metrics.DUPLICATES.inc(result.duplicates)
    metrics.BATCH_SIZE.observe(result.staged)
    for rejection in result.rejected.values():
        metrics.QUARANTINED.labels(rejection.reason.value).inc()
        logger.warning("quarantined (%s): %s", rejection.reason.value, rejection.detail)
    if result.latest_time is not None:
        metrics.LAG_SECONDS.set(time.time() - result.latest_time.timestamp())


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def run(settings: Settings, *, shards: list[int]) -> None:
    """The ``waterbill ingest`` process: serve metrics, consume until SIGINT/SIGTERM."""
    import signal

    from prometheus_client import start_http_server

    if settings.ingest.metrics_port:
        start_http_server(settings.ingest.metrics_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await Worker(settings, shards=shards).run(stop)
