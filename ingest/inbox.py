"""Messages received on one broker connection and not yet committed, in bounded memory.

Decoding runs in the protocol's callback, so it overlaps the database's work on the previous
batch (the worker awaits its COPY and COMMIT meanwhile). What waits is bounded by the settings,
in messages and in payload bytes: beyond them the connection stops reading from the socket (the
broker holds the rest) until a batch has been written.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from ingest.decoder import Reason, Rejection, decode, kept
from ingest.mqtt_packets import Publish
from ingest.service import Limits, Message
from wire.topics import serial_from_topic

# Valid uplink topics remembered with their serial (one per meter of the worker's shards).
TOPIC_CACHE_MAX = 1_000_000


class Inbox:
    def __init__(
        self,
        limits: Limits,
        topics: dict[bytes, tuple[str, str]],
        *,
        batch_size: int,
        batch_max_bytes: int,
        max_pending_messages: int,
        max_pending_bytes: int,
    ) -> None:
        self.limits = limits
        self.topics = topics
        self.batch_size = batch_size
        self.batch_max_bytes = batch_max_bytes
        self.max_pending_messages = max_pending_messages
        self.max_pending_bytes = max_pending_bytes
        self.pending: list[tuple[int, Message]] = []
        self.readings = 0
        self.bytes = 0
        self.full = asyncio.Event()
        self.open = True
        # Set by the worker once connected: stop and restart reading from the broker.
        self.pause: Callable[[], None] = lambda: None
        self.resume: Callable[[], None] = lambda: None
        self.paused = False

    def on_publish(self, publishes: list[Publish]) -> None:
        if not self.open:
            return  # stopping: never acked, so the broker delivers these again
        limits = self.limits
        topics = self.topics
        pending = self.pending
        now = time.time()
        max_future_s = limits.max_future_s
        max_payload_bytes = limits.max_payload_bytes
        readings = size = 0
        for raw_topic, payload, packet_id in publishes:
            known = topics.get(raw_topic)
            if known is None:
                topic = raw_topic.decode(errors="replace")
                serial = serial_from_topic(limits.topic_prefix, topic)
                if serial is None:
                    payload = kept(payload, max_payload_bytes)
                    size += len(payload)
                    rejection = Rejection(Reason.BAD_TOPIC, f"topic {topic[:200]!r}")
                    pending.append((packet_id, Message(topic, payload, None, rejection)))
                    readings += 1
                    continue
                if len(topics) >= TOPIC_CACHE_MAX:
                    topics.clear()
                known = topics[raw_topic] = (topic, serial)
            rows = decode(
                payload, now=now, max_future_s=max_future_s, max_payload_bytes=max_payload_bytes
            )
            payload = kept(payload, max_payload_bytes)
            size += len(payload)
            pending.append((packet_id, Message(known[0], payload, known[1], rows)))
            readings += 1 if type(rows) is Rejection else len(rows)  # type: ignore[arg-type]
        self.readings += readings
        self.bytes += size
        if self.readings >= self.batch_size or self.bytes >= self.batch_max_bytes:
            self.full.set()
        if not self.paused and (
            self.bytes >= self.max_pending_bytes or len(pending) >= self.max_pending_messages
        ):
            self.paused = True
            self.pause()

    def take(self) -> tuple[list[tuple[int, Message]], int]:
        """Up to one batch (in readings and in bytes) from the head of the queue."""
        batch_size = self.batch_size
        batch_max_bytes = self.batch_max_bytes
        taken = readings = size = 0
        for _, message in self.pending:
            readings += 1 if type(message.rows) is Rejection else len(message.rows)  # type: ignore[arg-type]
            size += len(message.payload)
            taken += 1
            if readings >= batch_size or size >= batch_max_bytes:
                break
        batch = self.pending[:taken]
        del self.pending[:taken]
        self.readings -= readings
        self.bytes -= size
        if self.readings < batch_size and self.bytes < batch_max_bytes:
            self.full.clear()
        if self.paused and (
            self.bytes < self.max_pending_bytes and len(self.pending) < self.max_pending_messages
        ):
            self.paused = False
            self.resume()
        return batch, readings
