"""The wire format meters speak: topic scheme and JSON payloads (one reading or a batch).

Topic: ``<prefix>/<shard>/meters/<serial>/up``. The shard is a stable hash of the serial, so a
meter always lands on the same topic and ingest workers can split the shards between them
statically (MQTT shared subscriptions lose messages with persistent sessions on several brokers,
eclipse-mosquitto/mosquitto#2662).

Payload, one reading::

    {"time": "2026-11-24T06:00:00Z", "index_l": 1234567, "flow_lph": 0.0,
     "battery_pct": 87, "signal_dbm": -71, "alarms": ["leak"]}

or a batch from a meter that wakes once a day::

    {"readings": [{"time": ..., "index_l": ...}, ...]}

``time`` is the device's clock (RFC 3339 with an offset, or epoch seconds) and is what we store;
``index_l`` is the cumulative register in whole litres.
"""

from __future__ import annotations

import zlib
from datetime import datetime
from enum import IntFlag, StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from core.registry import SERIAL_RE

MAX_READINGS_PER_MESSAGE = 1000


class AlarmName(StrEnum):
    LEAK = "leak"
    BURST = "burst"
    BACKFLOW = "backflow"
    TAMPER = "tamper"
    DRY = "dry"
    LOW_BATTERY = "low_battery"


class Alarm(IntFlag):
    """Device alarms as stored in ``reading.alarms`` (one bit each)."""

    NONE = 0
    LEAK = 1
    BURST = 2
    BACKFLOW = 4
    TAMPER = 8
    DRY = 16
    LOW_BATTERY = 32

    @classmethod
    def from_names(cls, names: list[AlarmName]) -> Alarm:
        flags = cls.NONE
        for name in names:
            flags |= cls[name.name]
        return flags

    def names(self) -> list[AlarmName]:
        return [AlarmName[flag.name] for flag in Alarm if flag and flag in self and flag.name]


class ReadingIn(BaseModel):
    """One reading as a meter sends it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    time: AwareDatetime = Field(description="Device timestamp, RFC 3339 with offset.")
    index_l: Annotated[int, Field(ge=0, lt=10**12, strict=True)] = Field(
        description="Cumulative register index in whole litres."
    )
    flow_lph: Annotated[float, Field(ge=-1e6, le=1e6, allow_inf_nan=False)] | None = Field(
        None, description="Instantaneous flow in litres per hour; negative is reverse flow."
    )
    battery_pct: Annotated[int, Field(ge=0, le=100)] | None = None
    signal_dbm: Annotated[int, Field(ge=-150, le=0)] | None = None
    alarms: list[AlarmName] = Field(default_factory=list, max_length=len(AlarmName))


class BatchIn(BaseModel):
    """Several readings in one message (a meter uploading its day)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    readings: list[ReadingIn] = Field(min_length=1, max_length=MAX_READINGS_PER_MESSAGE)


def shard_of(serial: str, shards: int) -> int:
    """Stable shard of a meter: crc32 is the same in every process and language."""
    return zlib.crc32(serial.encode()) % shards


def uplink_topic(prefix: str, shards: int, serial: str) -> str:
    return f"{prefix}/{shard_of(serial, shards)}/meters/{serial}/up"


def subscription_topic(prefix: str, shard: int) -> str:
    return f"{prefix}/{shard}/meters/+/up"


def serial_from_topic(prefix: str, topic: str) -> str | None:
    """The serial in an uplink topic, or None when the topic is not one of ours."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != prefix or parts[2] != "meters" or parts[4] != "up":
        return None
    if not parts[1].isdigit() or not SERIAL_RE.match(parts[3]):
        return None
    return parts[3]


def encode_reading(
    time: datetime,
    index_l: int,
    *,
    flow_lph: float | None = None,
    battery_pct: int | None = None,
    signal_dbm: int | None = None,
    alarms: list[AlarmName] | None = None,
) -> dict[str, Any]:
    """A reading as the JSON object a meter sends (optional fields left out when absent)."""
    body: dict[str, Any] = {"time": time.isoformat(), "index_l": index_l}
    if flow_lph is not None:
        body["flow_lph"] = flow_lph
    if battery_pct is not None:
        body["battery_pct"] = battery_pct
    if signal_dbm is not None:
        body["signal_dbm"] = signal_dbm
    if alarms:
        body["alarms"] = [alarm.value for alarm in alarms]
    return body


def json_schema() -> dict[str, Any]:
    """The published JSON Schema of an uplink payload: one reading, or a batch."""
    reading = ReadingIn.model_json_schema(ref_template="#/$defs/{model}")
    batch = BatchIn.model_json_schema(ref_template="#/$defs/{model}")
    defs = {**reading.pop("$defs", {}), **batch.pop("$defs", {}), "ReadingIn": reading}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://waterbill.example/schemas/uplink.json",
        "title": "WaterBill meter uplink",
        "description": "Payload of `<prefix>/<shard>/meters/<serial>/up`.",
        "oneOf": [{"$ref": "#/$defs/ReadingIn"}, {"$ref": "#/$defs/BatchIn"}],
        "$defs": {**defs, "BatchIn": batch},
    }
