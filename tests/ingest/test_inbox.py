"""The worker's inbox: batches bounded in readings and bytes, reading paused beyond its bounds."""

from __future__ import annotations

import orjson

from core.config_ingest import IngestSettings
from ingest.decoder import OVERSIZE_KEPT_BYTES, Reason, Rejection
from ingest.inbox import Inbox
from ingest.service import Limits
from wire.topics import uplink_topic

SETTINGS = IngestSettings()
LIMITS = Limits(
    topic_prefix="wb",
    max_future_s=10**10,
    max_flow_lph=50_000,
    max_payload_bytes=SETTINGS.max_payload_bytes,
)
TOPIC = uplink_topic("wb", 16, "INBOX-1").encode()


def reading_payload() -> bytes:
    return orjson.dumps({"time": "2026-11-24T06:00:00Z", "index_l": 5})


def inbox(**bounds: int) -> tuple[Inbox, list[str]]:
    calls: list[str] = []
    box = Inbox(
        LIMITS,
        {},
        batch_size=bounds.get("batch_size", 1000),
        batch_max_bytes=bounds.get("batch_max_bytes", 10**9),
        max_pending_messages=bounds.get("max_pending_messages", 10**9),
        max_pending_bytes=bounds.get("max_pending_bytes", 10**9),
    )
    box.pause = lambda: calls.append("pause")
    box.resume = lambda: calls.append("resume")
    return box, calls


class TestInbox:
    def test_a_batch_is_cut_at_its_byte_bound(self):
        payload = reading_payload()
        box, _ = inbox(batch_max_bytes=3 * len(payload))
        box.on_publish([(TOPIC, payload, n) for n in range(1, 8)])
        assert box.full.is_set()
        batch, readings = box.take()
        assert (len(batch), readings, len(box.pending)) == (3, 3, 4)
        assert box.bytes == 4 * len(payload)

    def test_reading_pauses_beyond_the_pending_bytes_and_resumes_below(self):
        payload = reading_payload()
        box, calls = inbox(batch_size=2, max_pending_bytes=5 * len(payload))
        box.on_publish([(TOPIC, payload, n) for n in range(1, 5)])
        assert calls == []
        box.on_publish([(TOPIC, payload, 5)])
        box.on_publish([(TOPIC, payload, 6)])
        assert calls == ["pause"]
        box.take()
        assert calls == ["pause", "resume"]

    def test_reading_pauses_beyond_the_pending_messages(self):
        box, calls = inbox(batch_size=1, max_pending_messages=3)
        box.on_publish([(TOPIC, reading_payload(), n) for n in range(1, 4)])
        assert calls == ["pause"]
        box.take()
        assert calls == ["pause", "resume"]

    def test_an_oversize_payload_is_held_as_its_first_kib_only(self):
        box, _ = inbox()
        big = b"[" + b" " * SETTINGS.max_payload_bytes + b"]"
        box.on_publish([(TOPIC, big, 1), (b"elsewhere", big, 2)])
        (_, first), (_, second) = box.pending
        assert isinstance(first.rows, Rejection)
        assert first.rows.reason is Reason.PAYLOAD_TOO_LARGE
        assert len(first.payload) == len(second.payload) == OVERSIZE_KEPT_BYTES
        assert box.bytes == 2 * OVERSIZE_KEPT_BYTES
