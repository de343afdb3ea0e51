"""The two uplink decoders: the strict one is the lax one's subset, from the same models."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from wire.alarms import AlarmName
from wire.codec import Reading, _struct, decode_strict, encode_reading, validate
from wire.exceptions import SchemaViolation

T = datetime(2026, 11, 24, 6, tzinfo=UTC)


def values(readings: Sequence[Reading] | None) -> list[tuple[Any, ...]] | None:
    if readings is None:
        return None
    return [
        (r.time, r.index_l, r.flow_lph, r.battery_pct, r.signal_dbm, sorted(set(r.alarms)))
        for r in readings
    ]


time_texts = st.builds(
    lambda day, sep, clock, fraction, zone: f"2026-11-{day:02d}{sep}{clock}{fraction}{zone}",
    st.integers(0, 32),
    st.sampled_from(["T", "t", " ", "_", ""]),
    st.sampled_from(["06:00:00", "23:59:60", "24:00:00", "6:00:00", "06:00", "06:00:00.5"]),
    st.sampled_from(["", ".1", ".123456", ".1234567891", ","]),
    st.sampled_from(["Z", "z", "+00:00", "+05:30", "-23:59", "+24:00", "", "+0530", "UTC"]),
)
numbers = st.none() | st.integers(-200, 200) | st.floats(allow_nan=False) | st.booleans()


class TestDecodeStrict:
    @settings(max_examples=1500, deadline=None)
    @given(
        time=time_texts | st.integers(0, 3 * 10**10),
        index=numbers | st.integers(0, 10**13),
        flow=numbers,
        battery=numbers,
        alarms=st.lists(st.sampled_from([*AlarmName, "smoke"]), max_size=7),
        batch=st.booleans(),
    )
    def test_what_msgspec_accepts_pydantic_accepts_the_same(
        self, time, index, flow, battery, alarms, batch
    ):
        reading = {"time": time, "index_l": index, "flow_lph": flow, "battery_pct": battery}
        reading["alarms"] = alarms
        payload = orjson.dumps({"readings": [reading]} if batch else reading)
        compiled = decode_strict(payload)
        if compiled is not None:
            assert values(validate(orjson.loads(payload))) == values(compiled)

    @pytest.mark.parametrize("name", list(AlarmName))
    def test_every_payload_alarm_is_taken(self, name):
        readings = decode_strict(orjson.dumps(encode_reading(T, 1, alarms=[name])))
        assert readings is not None
        assert list(readings[0].alarms) == [name]

    def test_an_unknown_alarm_is_left_to_the_models(self):
        payload = orjson.dumps({"time": T.isoformat(), "index_l": 1, "alarms": ["x"]})
        assert decode_strict(payload) is None

    @pytest.mark.parametrize("time", [int(T.timestamp()), 253402300799, 0, -1, "253402300799"])
    def test_epoch_times_are_refused_by_both(self, time):
        payload = orjson.dumps({"time": time, "index_l": 1})
        assert decode_strict(payload) is None
        with pytest.raises(SchemaViolation, match="time: .*epoch numbers are refused"):
            validate(orjson.loads(payload))


class TestValidate:
    def test_names_the_field_and_the_problem(self):
        with pytest.raises(SchemaViolation, match=r"signal_dbm: Input should be less than"):
            validate({"time": T.isoformat(), "index_l": 1, "signal_dbm": 5})

    def test_counts_the_problems_it_does_not_name(self):
        body = {"readings": [{"time": "x", "index_l": -1}] * 3}
        with pytest.raises(SchemaViolation, match=r"and 3 more$"):
            validate(body)


class TestDerivedStruct:
    def test_a_constraint_msgspec_cannot_check_refuses_to_compile(self):
        class Odd(BaseModel):
            serial: Annotated[str, Field(pattern="^[A-Z]+$")]

        with pytest.raises(TypeError, match="no msgspec equivalent"):
            _struct(Odd)


class TestEncodeReading:
    def test_leaves_absent_fields_out(self):
        assert encode_reading(T, 5) == {"time": "2026-11-24T06:00:00+00:00", "index_l": 5}

    def test_round_trips_through_the_strict_decoder(self):
        body = encode_reading(
            T, 5, flow_lph=1.5, battery_pct=80, signal_dbm=-70, alarms=[AlarmName.DRY]
        )
        assert values(decode_strict(orjson.dumps(body))) == [(T, 5, 1.5, 80, -70, ["dry"])]
