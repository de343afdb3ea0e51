"""The ingest section of ``core.config.Settings``: the MQTT worker's session, batches and limits."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class IngestSettings(BaseModel):
    mqtt_transport: Literal["aiomqtt", "native"] = Field(
        "aiomqtt",
        description="MQTT client of the worker: `aiomqtt` (paho-mqtt underneath; MQTT 3.1.1 and"
        " 5) or `native`, the hand-written MQTT 5 client of `ingest/mqtt.py`, faster per message"
        ' (docs/ingest.md, "Transports").',
    )
    client_id: str = Field(
        "waterbill-ingest", description="Base MQTT client id; the broker keeps its session."
    )
    shards: str = Field(
        "all", description="Shards this worker consumes: `all`, or a list/range like `0-7,9`."
    )
    batch_size: int = Field(10_000, ge=1, description="Readings per database batch at most.")
    batch_interval_ms: int = Field(
        50, ge=1, description="Longest wait before a partial batch is written."
    )
    session_expiry_s: int = Field(
        7 * 24 * 3600, description="How long the broker keeps the session while we are away."
    )
    max_future_s: int = Field(
        600, description="Readings stamped further in the future than this are quarantined."
    )
    metrics_port: int | None = Field(
        None, description="Port for this worker's Prometheus /metrics; none to disable."
    )
    max_flow_lph: float = Field(
        50_000,
        gt=0,
        description="Highest flow a meter can register (l/h); faster index jumps are quarantined.",
    )
    reverse_tolerance_l: int = Field(
        20,
        ge=0,
        description="A register step back of at most this many litres is stored (meter backlash,"
        " unflagged reverse flow), not quarantined; larger steps back need the backflow alarm.",
    )
    receive_maximum: int = Field(
        20_000,
        ge=1,
        le=65_535,
        description="Unacknowledged messages the broker may have in flight to a worker (MQTT v5"
        " Receive Maximum): the backpressure while batches are written.",
    )
    reconnect_max_s: float = Field(
        5.0,
        gt=0,
        description="Longest wait between reconnection attempts (broker or database); each wait is"
        " doubled up to it, less up to half at random, so ingest resumes within seconds of either's"
        " return and workers do not reconnect in step.",
    )
    connect_refusals_max: int = Field(
        3,
        ge=1,
        description="The broker refusing the worker's credentials or client id this many times in"
        " a row makes the worker exit non-zero, rather than retry forever.",
    )
    max_payload_bytes: int = Field(
        512 * 1024,
        ge=1024,
        description="Largest payload decoded; a larger one is quarantined (`payload_too_large`)"
        " with its size and only its first KiB, never whole.",
    )
    max_packet_bytes: int = Field(
        2 * 1024 * 1024,
        ge=2048,
        description="MQTT v5 Maximum Packet Size the worker announces: the broker never sends it"
        " a larger message (it drops it). Keep it above `max_payload_bytes`, so that payloads in"
        " between are quarantined with their size rather than gone.",
    )
    batch_max_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1,
        description="Payload bytes per database batch at most (with `batch_size` readings).",
    )
    max_pending_bytes: int = Field(
        64 * 1024 * 1024,
        ge=1,
        description="Payload bytes received and not yet committed at most: beyond it the worker"
        " stops reading from the broker until a batch is written, so its memory stays bounded"
        " whatever the payloads.",
    )
    max_pending_messages: int = Field(
        100_000,
        ge=1,
        description="Messages received and not yet committed at most (QoS 0 ones are not bounded"
        " by `receive_maximum`); beyond it the worker stops reading from the broker likewise.",
    )
    quarantine_log_interval_s: float = Field(
        60.0,
        gt=0,
        description="Quarantined messages are logged as one line per reason per interval, with"
        " their count and the latest detail, not one line per message.",
    )
    count_unserved: bool = Field(
        True,
        description="The worker that consumes shard 0 also subscribes to `<prefix>/#` (QoS 0, on a"
        " second connection without session) and counts and logs messages on topics no shard"
        " covers (`waterbill_ingest_unserved_messages`), which the broker would drop unseen.",
    )
