"""Payload bytes to readings, or a ``Rejection`` with a reason code: pure, no I/O.

The uplink schema (``wire.schema``) is the contract. Its strict decoder takes the well-formed
payloads in C; anything else is parsed and judged by the lax models, which either accept it or
name what is wrong (``wire.codec``). Ingest adds its own defences: a size limit, and device clocks
that cannot be right (before 2000, or too far ahead of ours).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import orjson

from wire.alarms import alarm_bits
from wire.codec import decode_strict, validate
from wire.exceptions import SchemaViolation

# What the quarantine keeps of an oversize payload: enough to see what sent it, not the bulk.
OVERSIZE_KEPT_BYTES = 1024
# No meter of ours read water before this: earlier times are a reset or unset device clock.
EARLIEST_TIME = datetime(2000, 1, 1, tzinfo=UTC)
_EARLIEST_S = EARLIEST_TIME.timestamp()


class Reason(StrEnum):
    """Why a message went to quarantine instead of the reading table."""

    BAD_TOPIC = "bad_topic"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    MALFORMED_JSON = "malformed_json"
    SCHEMA_VIOLATION = "schema_violation"
    # Ahead of the server clock: the only time reason that a later reprocess can cure.
    FUTURE_TIMESTAMP = "future_timestamp"
    # Before 2000 or before the meter's installation: never storable.
    IMPLAUSIBLE_TIME = "implausible_time"
    UNKNOWN_METER = "unknown_meter"
    INDEX_JUMP = "index_jump"
    # The (meter, time) is already stored, or came earlier in the batch, with another index.
    CONFLICTING_DUPLICATE = "conflicting_duplicate"
    # An index the meter's register cannot show: at or above 10**register_digits.
    INDEX_OUT_OF_RANGE = "index_out_of_range"
    METER_REMOVED = "meter_removed"
    # The database refused the message's rows (a value the checks above let through).
    STORE_FAILED = "store_failed"


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: Reason
    detail: str


# (time, index_l, flow_lph, battery_pct, signal_dbm, alarms bit set): the staging row, minus
# the meter id which the service resolves from the serial.
ReadingRow = tuple[datetime, int, float | None, int | None, int | None, int]


def decode(
    payload: bytes, *, now: float, max_future_s: float, max_payload_bytes: int
) -> list[ReadingRow] | Rejection:
    """The readings of one uplink payload, or why it cannot be stored.

    Args:
        payload: the raw MQTT payload.
        now: current epoch seconds, against which device clocks are judged.
        max_future_s: how far ahead of ``now`` a device timestamp may be.
        max_payload_bytes: the largest payload decoded (a full batch of 1000 readings with every
            field is ~150 kB); a larger one is rejected unread.
    """
    if len(payload) > max_payload_bytes:
        return Rejection(
            Reason.PAYLOAD_TOO_LARGE,
            f"{len(payload)} bytes, at most {max_payload_bytes}; the first"
            f" {OVERSIZE_KEPT_BYTES} kept",
        )
    readings = decode_strict(payload)
    if readings is None:
        try:
            body = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            return Rejection(Reason.MALFORMED_JSON, str(exc)[:200])
        try:
            readings = validate(body)
        except SchemaViolation as exc:
            return Rejection(Reason.SCHEMA_VIOLATION, str(exc))
    rows = [
        (
            reading.time,
            reading.index_l,
            reading.flow_lph,
            reading.battery_pct,
            reading.signal_dbm,
            alarm_bits(reading.alarms) if reading.alarms else 0,
        )
        for reading in readings
    ]
    limit = now + max_future_s
    for row in rows:
        try:
            stamp = row[0].timestamp()
        except (OverflowError, ValueError):
            return Rejection(Reason.SCHEMA_VIOLATION, f"time {row[0]} is out of range")
        if stamp < _EARLIEST_S:
            return Rejection(
                Reason.IMPLAUSIBLE_TIME,
                f"time {row[0].isoformat()} is before {EARLIEST_TIME.date().isoformat()}",
            )
        if stamp > limit:
            return Rejection(
                Reason.FUTURE_TIMESTAMP,
                f"time {row[0].isoformat()} is {stamp - now:.0f} s ahead of the server clock",
            )
    return rows


def kept(payload: bytes, max_payload_bytes: int) -> bytes:
    """What a message holds on to of its payload: an oversize one, only its head."""
    return payload[:OVERSIZE_KEPT_BYTES] if len(payload) > max_payload_bytes else payload
