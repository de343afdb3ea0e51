"""The uplink payload schema: one reading, or a batch. The only definition of it.

One reading::

    {"time": "2026-11-24T06:00:00Z", "index_l": 1234567, "flow_lph": 0.0,
     "battery_pct": 87, "signal_dbm": -71, "alarms": ["leak"]}

or a batch from a meter that wakes once a day::

    {"readings": [{"time": ..., "index_l": ...}, ...]}

``time`` is the device's clock (RFC 3339 with an offset, or epoch seconds) and is what we store;
``index_l`` is the cumulative register in whole litres. The strict decoder (``wire.codec``) and
the published JSON Schema (``json_schema``, committed as ``docs/reference/uplink.schema.json``)
are both generated from these models.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from wire.alarms import AlarmName

MAX_READINGS_PER_MESSAGE = 1000


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
