"""The ingest worker: MQTT v5 persistent session in, batches out, PUBACK only after COMMIT.

Durability: a fixed client id per shard set, no clean start and a session expiry interval make
the broker queue readings while the worker is away; QoS 1 messages are acknowledged (through
``ingest.mqtt``, a batch's PUBACKs in one write) only once their batch has committed, so a crash
at any point makes the broker redeliver what was not committed (and ON CONFLICT drops what was).

Scale-out is a static split of the ``<shard>`` topic level between workers, never a shared
subscription (those lose messages with persistent sessions, eclipse-mosquitto/mosquitto#2662).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import random
import time
from typing import Any

import psycopg

from core.config import Settings
from ingest import metrics
from ingest.decoder import Reason, Rejection
from ingest.inbox import Inbox
from ingest.mqtt import ConnectOptions, ConnectRefused, MqttError, MqttSubscriber
from ingest.quarantine_log import QuarantineLog
from ingest.repository import IngestRepository
from ingest.service import (
    BatchResult,
    Limits,
    Message,
    MeterDirectory,
    quarantine_row,
    record_messages,
)
from wire.topics import subscription_topic

logger = logging.getLogger(__name__)

# First wait after a failed connection; doubled up to ingest.reconnect_max_s, plus jitter.
INITIAL_BACKOFF_S = 0.2
# Exit status when the broker keeps refusing our CONNECT (sysexits' EX_NOPERM).
EXIT_REFUSED = 77


class BrokerRefused(Exception):
    """The broker refused the worker's CONNECT ``ingest.connect_refusals_max`` times in a row."""


# Allocations between two young-generation collections (the default is 700).
GC_THRESHOLD = 50_000


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
        self.limits = Limits.from_settings(settings)
        self.meters = MeterDirectory()
        self.topics: dict[bytes, tuple[str, str]] = {}
        self.quarantine_log = QuarantineLog(settings.ingest.quarantine_log_interval_s)
        self._conn: psycopg.AsyncConnection[Any] | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set, reconnecting to the broker with backoff."""
        backoff = INITIAL_BACKOFF_S
        refusals = 0
        try:
            while not stop.is_set():
                try:
                    await self._session(stop)
                    backoff = INITIAL_BACKOFF_S
                    refusals = 0
                except ConnectRefused as exc:
                    refusals += 1
                    if refusals >= self.settings.ingest.connect_refusals_max:
                        raise BrokerRefused(f"{exc}, {refusals} times in a row") from exc
                    logger.warning("%s; retrying in %.1f s", exc, backoff)
                    await _sleep_unless(stop, backoff)
                    backoff = self._next_backoff(backoff)
                except MqttError as exc:
                    refusals = 0
                    logger.warning("MQTT connection lost (%s); retrying in %.1f s", exc, backoff)
                    await _sleep_unless(stop, backoff)
                    backoff = self._next_backoff(backoff)
        finally:
            self.quarantine_log.flush()
            if self._conn is not None:
                await self._conn.close()
        logger.info("ingest worker %s stopped", self.client_id)

    def _next_backoff(self, backoff: float) -> float:
        """Doubled up to the cap, less up to half at random: workers that lost the same broker or
        database do not all come back in step."""
        return min(backoff * 2, self.settings.ingest.reconnect_max_s) * random.uniform(0.5, 1)

    def _options(self) -> ConnectOptions:
        mqtt = self.settings.mqtt
        return ConnectOptions(
            host=mqtt.host,
            port=mqtt.port,
            client_id=self.client_id,
            username=mqtt.username,
            password=mqtt.password.get_secret_value() if mqtt.password else None,
            keepalive_s=30,
            session_expiry_s=self.settings.ingest.session_expiry_s,
            receive_maximum=self.settings.ingest.receive_maximum,
            maximum_packet_size=self.settings.ingest.max_packet_bytes,
        )

    async def _session(self, stop: asyncio.Event) -> None:
        ingest = self.settings.ingest
        inbox = Inbox(
            self.limits,
            self.topics,
            batch_size=ingest.batch_size,
            batch_max_bytes=ingest.batch_max_bytes,
            max_pending_messages=ingest.max_pending_messages,
            max_pending_bytes=ingest.max_pending_bytes,
        )
        async with MqttSubscriber(self._options(), inbox.on_publish) as subscriber:
            inbox.pause, inbox.resume = subscriber.pause_reading, subscriber.resume_reading
            prefix = self.settings.mqtt.topic_prefix
            await subscriber.subscribe([subscription_topic(prefix, s) for s in self.shards])
            logger.info(
                "ingest worker %s subscribed to shards %s", self.client_id, shard_label(self.shards)
            )
            try:
                await self._consume(subscriber, inbox, stop)
            finally:
                inbox.open = False

    async def _consume(self, subscriber: MqttSubscriber, inbox: Inbox, stop: asyncio.Event) -> None:
        stopping = asyncio.create_task(stop.wait())
        closed = subscriber.closed
        interval = self.settings.ingest.batch_interval_ms / 1000
        try:
            while True:
                full_wait = asyncio.create_task(inbox.full.wait())
                waiters: list[asyncio.Future[Any]] = [closed, stopping, full_wait]
                await asyncio.wait(
                    waiters,
                    timeout=interval,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                full_wait.cancel()
                if closed.done():
                    # Connection lost: what is pending was never acked and will come again.
                    closed.result()
                if stop.is_set():
                    inbox.open = False
                    while inbox.pending:
                        await self._flush(subscriber, inbox, stop)
                    return
                metrics.QUEUE_DEPTH.set(len(inbox.pending))
                await self._flush(subscriber, inbox, stop)
                self.quarantine_log.tick()
        finally:
            stopping.cancel()

    async def _flush(self, subscriber: MqttSubscriber, inbox: Inbox, stop: asyncio.Event) -> None:
        """Write up to one batch from the head of the inbox, commit, then ack it."""
        if not inbox.pending:
            return
        batch, _ = inbox.take()
        started = time.perf_counter()
        result = await self._write([message for _, message in batch], stop)
        if result is None:
            return
        metrics.COMMIT_SECONDS.observe(time.perf_counter() - started)
        subscriber.ack([packet_id for packet_id, _ in batch if packet_id])
        _count(result)
        if result.rejected:
            self.quarantine_log.add(result.rejected.values())

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
                backoff = self._next_backoff(backoff)

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
            self._conn = await psycopg.AsyncConnection.connect(self.settings.dsn, connect_timeout=5)
            async with self._conn.transaction():
                await IngestRepository(self._conn).create_stage()
        return self._conn

    async def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                await self._conn.close()
            self._conn = None


def _count(result: BatchResult) -> None:
    metrics.MESSAGES.inc(result.messages)
    metrics.READINGS_STORED.inc(result.stored)
    metrics.DUPLICATES.inc(result.duplicates)
    metrics.BATCH_SIZE.observe(result.staged)
    for rejection in result.rejected.values():
        metrics.QUARANTINED.labels(rejection.reason.value).inc()
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
    # The worker allocates a few objects per reading and creates no cycles worth chasing: with
    # the default thresholds the collector's passes over the pending messages took half of the
    # decoding time (bench/ingest.py). Startup's objects are moved out of its sight for good.
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, 20, 100)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await Worker(settings, shards=shards).run(stop)
    except BrokerRefused as exc:
        logger.error(
            "ingest worker stopping: %s. Check WATERBILL_MQTT__USERNAME / WATERBILL_MQTT__PASSWORD"
            " and the broker's ACL for this client id.",
            exc,
        )
        raise SystemExit(EXIT_REFUSED) from None
