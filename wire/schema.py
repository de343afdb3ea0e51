"""The uplink payload schema: one reading, or a batch. The only definition of it.

One reading::

    {"time": "2026-11-24T06:00:00Z", "index_l": 1234567, "flow_lph": 0.0,
     "battery_pct": 87, "signal_dbm": -71, "alarms": ["leak"]}

or a batch from a meter that wakes once a day::

    {"readings": [{"time": ..., "index_l": ...}, ...]}

``time`` is the device's clock, an ISO 8601 date-time with its UTC offset (never an epoch number:
seconds and milliseconds cannot be told apart, and a year-9999 clock once read as 1978), and is
what we store;
``index_l`` is the cumulative register in whole litres. The strict decoder (``wire.codec``) and
the published JSON Schema (``json_schema``, committed as ``docs/reference/uplink.schema.json``)
are both generated from these models.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from wire.alarms import AlarmName

MAX_READINGS_PER_MESSAGE = 1000
# A date first: the lax models would otherwise read numbers and numeric strings as epoch times.
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]")


class ReadingIn(BaseModel):
    """One reading as a meter sends it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    time: AwareDatetime = Field(
        description="Device clock: an ISO 8601 (RFC 3339) date-time with its UTC offset, such as"
        " `2026-11-24T06:00:00+10:00` or `2026-11-23T20:00:00Z`. Epoch numbers are refused."
    )
    index_l: Annotated[int, Field(ge=0, lt=10**12, strict=True)] = Field(
        description="Cumulative register index in whole litres."
    )
    flow_lph: Annotated[float, Field(ge=-1e6, le=1e6, allow_inf_nan=False)] | None = Field(
        None, description="Instantaneous flow in litres per hour; negative is reverse flow."
    )
    battery_pct: Annotated[int, Field(ge=0, le=100)] | None = None
    signal_dbm: Annotated[int, Field(ge=-150, le=0)] | None = None
    alarms: list[AlarmName] = Field(default_factory=list, max_length=len(AlarmName))

    @field_validator("time", mode="before")
    @classmethod
    def _iso_8601_only(cls, value: object) -> object:
        if isinstance(value, str) and _ISO_DATE.match(value):
            return value
        raise ValueError("must be an ISO 8601 date-time with an offset; epoch numbers are refused")


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
