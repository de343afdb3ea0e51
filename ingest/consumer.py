"""The ingest worker: MQTT persistent session in, batches out, PUBACK only after COMMIT.

Durability: a fixed client id per shard set, no clean start (MQTT 3.1.1: no clean session) and a
session expiry interval make the broker queue readings while the worker is away; QoS 1 messages
are acknowledged only once their batch has committed, so a crash at any point makes the broker
redeliver what was not committed (and ON CONFLICT drops what was).

The MQTT client is a transport chosen by ``ingest.mqtt_transport``: aiomqtt
(``ingest.mqtt_aiomqtt``, the default) or the hand-written MQTT 5 client (``ingest.mqtt``), with
the same interface.

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
from core.config_mqtt import TlsConfigError, client_ssl_context
from ingest import metrics
from ingest.decoder import Reason, Rejection
from ingest.inbox import Inbox
from ingest.mqtt import (
    ConnectRefused,
    MqttError,
    MqttSubscriber,
    Subscriber,
    TlsRefused,
    Transport,
)
from ingest.mqtt_aiomqtt import AiomqttSubscriber
from ingest.mqtt_packets import ConnectOptions
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
from ingest.shards import client_id, shard_label
from ingest.unserved import UnservedTopics, catch_all
from wire.topics import subscription_topic

logger = logging.getLogger(__name__)

# First wait after a failed connection; doubled up to ingest.reconnect_max_s, plus jitter.
INITIAL_BACKOFF_S = 0.2
# Exit status when the broker keeps refusing our CONNECT or TLS handshake (sysexits' EX_NOPERM).
EXIT_REFUSED = 77
# Exit status when the TLS files in the settings cannot be loaded (sysexits' EX_CONFIG).
EXIT_CONFIG = 78


class BrokerRefused(Exception):
    """The broker refused the worker's CONNECT ``ingest.connect_refusals_max`` times in a row."""

    def __init__(self, message: str, *, tls: bool) -> None:
        super().__init__(message)
        self.tls = tls


# Allocations between two young-generation collections (the default is 700).
GC_THRESHOLD = 50_000


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
        self.ssl = client_ssl_context(settings.mqtt)
        self.transport: Transport = (
            MqttSubscriber if settings.ingest.mqtt_transport == "native" else AiomqttSubscriber
        )
        # Whether the broker has held a session of ours since this process started: a reconnect
        # that finds none means the broker lost it, and whatever it had queued for us.
        self.had_session = False
        # The worker of shard 0 watches the topic root for messages no shard covers.
        self.unserved: UnservedTopics | None = None
        if 0 in shards and settings.ingest.count_unserved:
            mqtt = settings.mqtt
            self.unserved = UnservedTopics(
                mqtt.topic_prefix, mqtt.shards, settings.ingest.quarantine_log_interval_s
            )
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
                        message = f"{exc}, {refusals} times in a row"
                        raise BrokerRefused(message, tls=isinstance(exc, TlsRefused)) from exc
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
            if self.unserved is not None:
                self.unserved.flush()
            if self._conn is not None:
                await self._conn.close()
        logger.info("ingest worker %s stopped", self.client_id)

    def _next_backoff(self, backoff: float) -> float:
        """Doubled up to the cap, less up to half at random: workers that lost the same broker or
        database do not all come back in step."""
        return min(backoff * 2, self.settings.ingest.reconnect_max_s) * random.uniform(0.5, 1)

    def _options(self, client_id: str, session_expiry_s: int) -> ConnectOptions:
        mqtt = self.settings.mqtt
        return ConnectOptions(
            host=mqtt.host,
            port=mqtt.port,
            client_id=client_id,
            username=mqtt.username,
            password=mqtt.password.get_secret_value() if mqtt.password else None,
            keepalive_s=30,
            session_expiry_s=session_expiry_s,
            receive_maximum=self.settings.ingest.receive_maximum,
            maximum_packet_size=self.settings.ingest.max_packet_bytes,
            ssl=self.ssl,
            protocol_version=5 if mqtt.protocol == "5" else 4,
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
        options = self._options(self.client_id, ingest.session_expiry_s)
        async with contextlib.AsyncExitStack() as stack:
            subscriber = await stack.enter_async_context(self.transport(options, inbox.on_publish))
            self._check_session(subscriber.session_present)
            prefix = self.settings.mqtt.topic_prefix
            # A resumed session's backlog arrives before the SUBACK: reading is paused at the
            # memory bound only once subscribed, or the SUBACK would wait behind it for good
            # (MQTT 3.1.1 has no Receive Maximum to stop the broker sooner).
            await subscriber.subscribe([subscription_topic(prefix, s) for s in self.shards])
            inbox.pause, inbox.resume = subscriber.pause_reading, subscriber.resume_reading
            if inbox.paused:
                subscriber.pause_reading()
            self.had_session = True
            closed = [subscriber.closed]
            if self.unserved is not None:
                # No session (expiry 0) and QoS 0: the broker keeps nothing for this watcher.
                watch = self._options(f"{self.client_id}-unserved", 0)
                watcher = await stack.enter_async_context(
                    self.transport(watch, self.unserved.on_publish)
                )
                await watcher.subscribe([catch_all(prefix)], qos=0)
                logger.info(
                    "ingest worker %s counts messages on topics no shard covers (%s)",
                    self.client_id,
                    catch_all(prefix),
                )
                closed.append(watcher.closed)
            logger.info(
                "ingest worker %s subscribed to shards %s (%s transport, MQTT %s)",
                self.client_id,
                shard_label(self.shards),
                self.settings.ingest.mqtt_transport,
                self.settings.mqtt.protocol,
            )
            try:
                await self._consume(subscriber, inbox, stop, closed)
            finally:
                inbox.open = False

    def _check_session(self, session_present: bool) -> None:
        """Say loudly when the broker comes back without our session (CONNACK Session Present
        = 0 after we had one): what it had queued for us while we were away is gone."""
        if session_present or not self.had_session:
            return
        metrics.SESSIONS_LOST.inc()
        logger.error(
            "the MQTT broker lost the session of %s (CONNACK Session Present = 0 on reconnect):"
            " readings it had queued for this worker while it was away are lost. Check the"
            " broker's persistence and restarts; the meters' own stores may resend them.",
            self.client_id,
        )

    async def _consume(
        self,
        subscriber: Subscriber,
        inbox: Inbox,
        stop: asyncio.Event,
        closed: list[asyncio.Future[None]],
    ) -> None:
        stopping = asyncio.create_task(stop.wait())
        interval = self.settings.ingest.batch_interval_ms / 1000
        try:
            while True:
                full_wait = asyncio.create_task(inbox.full.wait())
                waiters: list[asyncio.Future[Any]] = [*closed, stopping, full_wait]
                await asyncio.wait(
                    waiters,
                    timeout=interval,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                full_wait.cancel()
                for connection in closed:
                    if connection.done():
                        # Connection lost: what is pending was never acked and will come again.
                        connection.result()
                if stop.is_set():
                    inbox.open = False
                    while inbox.pending:
                        await self._flush(subscriber, inbox, stop)
                    return
                metrics.QUEUE_DEPTH.set(len(inbox.pending))
                await self._flush(subscriber, inbox, stop)
                self.quarantine_log.tick()
                if self.unserved is not None:
                    self.unserved.tick()
        finally:
            stopping.cancel()

    async def _flush(self, subscriber: Subscriber, inbox: Inbox, stop: asyncio.Event) -> None:
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
        worker = Worker(settings, shards=shards)
    except TlsConfigError as exc:
        logger.error("ingest worker cannot start: %s", exc)
        raise SystemExit(EXIT_CONFIG) from None
    try:
        await worker.run(stop)
    except BrokerRefused as exc:
        hint = (
            "Check WATERBILL_MQTT__TLS_CA_FILE (the CA that signed the broker's certificate),"
            " WATERBILL_MQTT__HOST (a name the certificate carries), WATERBILL_MQTT__PORT (the"
            " broker's TLS listener) and the client certificate if the broker requires one."
            if exc.tls
            else "Check WATERBILL_MQTT__USERNAME / WATERBILL_MQTT__PASSWORD and the broker's ACL"
            " for this client id."
        )
        logger.error("ingest worker stopping: %s. %s", exc, hint)
        raise SystemExit(EXIT_REFUSED) from None
