"""Payload bytes to readings, or a ``Rejection`` with a reason code: pure, no I/O.

The published JSON Schema (``ingest.payload``) is the contract. A hand-written fast path accepts
the common, well-formed shapes without pydantic (most of the per-message cost at 50k msg/s); any
doubt falls back to the pydantic models, which then either accept the payload or name what is
wrong. The fast path therefore accepts a subset of what the models accept, never more.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson
from pydantic import ValidationError

from ingest.payload import MAX_READINGS_PER_MESSAGE, Alarm, AlarmName, BatchIn, ReadingIn

# A full batch of 1000 readings with every field is ~150 kB; anything far larger is hostile.
MAX_PAYLOAD_BYTES = 512 * 1024

_ALARM_BITS = {name.value: int(Alarm[name.name]) for name in AlarmName}
_READING_KEYS = frozenset(ReadingIn.model_fields)
# Epoch seconds below this are taken as seconds by pydantic (above, as milliseconds).
_EPOCH_SECONDS_MAX = 2 * 10**10


class Reason(StrEnum):
    """Why a message went to quarantine instead of the reading table."""

    BAD_TOPIC = "bad_topic"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    MALFORMED_JSON = "malformed_json"
    SCHEMA_VIOLATION = "schema_violation"
    FUTURE_TIMESTAMP = "future_timestamp"
    UNKNOWN_METER = "unknown_meter"
    INDEX_JUMP = "index_jump"
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


def decode(payload: bytes, *, now: float, max_future_s: float) -> list[ReadingRow] | Rejection:
    """The readings of one uplink payload, or why it cannot be stored.

    Args:
        payload: the raw MQTT payload.
        now: current epoch seconds, against which device clocks are judged.
        max_future_s: how far ahead of ``now`` a device timestamp may be.
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        return Rejection(
            Reason.PAYLOAD_TOO_LARGE, f"{len(payload)} bytes, at most {MAX_PAYLOAD_BYTES}"
        )
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        return Rejection(Reason.MALFORMED_JSON, str(exc)[:200])
    rows = _fast(body)
    if rows is None:
        rows_or_rejection = _slow(body)
        if isinstance(rows_or_rejection, Rejection):
            return rows_or_rejection
        rows = rows_or_rejection
    limit = now + max_future_s
    for row in rows:
        try:
            stamp = row[0].timestamp()
        except (OverflowError, ValueError):
            return Rejection(Reason.SCHEMA_VIOLATION, f"time {row[0]} is out of range")
        if stamp > limit:
            return Rejection(
                Reason.FUTURE_TIMESTAMP,
                f"time {row[0].isoformat()} is {stamp - now:.0f} s ahead of the server clock",
            )
    return rows


def _fast(body: Any) -> list[ReadingRow] | None:
    """Rows for the common shapes, or None to let pydantic decide."""
    if type(body) is not dict:
        return None
    if "readings" in body:
        items = body["readings"]
        if (
            len(body) != 1
            or type(items) is not list
            or not 1 <= len(items) <= (MAX_READINGS_PER_MESSAGE)
        ):
            return None
        rows = []
        for item in items:
            row = _fast_reading(item)
            if row is None:
                return None
            rows.append(row)
        return rows
    row = _fast_reading(body)
    return None if row is None else [row]


def _fast_reading(item: Any) -> ReadingRow | None:
    if type(item) is not dict or not _READING_KEYS.issuperset(item):
        return None
    time = _fast_time(item.get("time"))
    index_l = item.get("index_l")
    if time is None or type(index_l) is not int or not 0 <= index_l < 10**12:
        return None
    flow = item.get("flow_lph")
    if flow is not None:
        if type(flow) is int:
            flow = float(flow)
        elif type(flow) is not float or not math.isfinite(flow):
            return None
        if not -1e6 <= flow <= 1e6:
            return None
    battery = item.get("battery_pct")
    if battery is not None and (type(battery) is not int or not 0 <= battery <= 100):
        return None
    signal = item.get("signal_dbm")
    if signal is not None and (type(signal) is not int or not -150 <= signal <= 0):
        return None
    alarms = 0
    names = item.get("alarms")
    if names is not None:
        if type(names) is not list or len(names) > len(AlarmName):
            return None
        for name in names:
            bit = _ALARM_BITS.get(name) if type(name) is str else None
            if bit is None:
                return None
            alarms |= bit
    return (time, index_l, flow, battery, signal, alarms)


def _fast_time(value: Any) -> datetime | None:
    if type(value) is str:
        # Only the plain RFC 3339 extended form; anything else is pydantic's to judge.
        if (
            len(value) < 20
            or value[10] != "T"
            or value[13] != ":"
            or not (value[:4] + value[5:7] + value[8:10]).isdigit()
            or "," in value
        ):
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else None
    if type(value) is int and 0 <= value < _EPOCH_SECONDS_MAX:
        return datetime.fromtimestamp(value, UTC)
    return None


def _slow(body: Any) -> list[ReadingRow] | Rejection:
    model: type[ReadingIn] | type[BatchIn] = (
        BatchIn if isinstance(body, dict) and "readings" in body else ReadingIn
    )
    try:
        parsed = model.model_validate(body)
    except ValidationError as exc:
        return Rejection(Reason.SCHEMA_VIOLATION, _describe(exc))
    readings = parsed.readings if isinstance(parsed, BatchIn) else [parsed]
    return [
        (
            reading.time,
            reading.index_l,
            reading.flow_lph,
            reading.battery_pct,
            reading.signal_dbm,
            int(Alarm.from_names(reading.alarms)),
        )
        for reading in readings
    ]


def _describe(exc: ValidationError) -> str:
    """The first few problems, each as `location: message`, short enough for a log line."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False)[:3]:
        location = ".".join(str(part) for part in error["loc"]) or "payload"
        parts.append(f"{location}: {error['msg']}")
    more = exc.error_count() - len(parts)
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)[:500]
