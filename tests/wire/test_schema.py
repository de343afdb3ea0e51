"""The published JSON Schema and the strict decoder say the same thing about a payload."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from jsonschema import Draft202012Validator, FormatChecker

from wire.alarms import AlarmName
from wire.codec import decode_strict, validate
from wire.exceptions import SchemaViolation
from wire.schema import json_schema

PUBLISHED = Path(__file__).parents[2] / "docs" / "reference" / "uplink.schema.json"
VALIDATOR = Draft202012Validator(json_schema(), format_checker=FormatChecker())


def schema_accepts(body: Any) -> bool:
    return VALIDATOR.is_valid(body)


# Device clocks as RFC 3339 date-times, well and badly spelt; the ISO 8601 spellings that the
# decoder takes beyond RFC 3339 (a space for "T", an offset without its colon) are in TestLenience.
rfc3339_or_not = st.builds(
    lambda day, sep, clock, fraction, zone: f"2026-11-{day:02d}{sep}{clock}{fraction}{zone}",
    st.integers(0, 32),
    st.sampled_from(["T", "t", "_", ""]),
    st.sampled_from(["06:00:00", "23:59:60", "24:00:00", "6:00:00", "06:00", "06:00:00.5"]),
    st.sampled_from(["", ".1", ".123456", ".1234567891", ","]),
    st.sampled_from(["Z", "z", "+00:00", "+05:30", "-23:59", "+24:00", "", "UTC"]),
) | st.sampled_from(["24/11/2026 06:00", "20261124T060000Z", "0000-01-01T00:00:00Z"])


class TestPublishedSchema:
    def test_the_committed_file_is_generated_from_the_models(self):
        assert json.loads(PUBLISHED.read_text()) == json_schema(), (
            "regenerate it: python -m wire > docs/reference/uplink.schema.json"
        )

    def test_the_schema_checks_date_times(self):
        # Without a date-time checker installed, jsonschema skips "format" silently.
        assert not schema_accepts({"time": "yesterday", "index_l": 1})


class TestSchemaAndDecoderAgree:
    @settings(
        max_examples=300,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(body=from_schema(json_schema()))
    def test_every_payload_the_schema_validates_the_strict_decoder_takes(self, body):
        payload = orjson.dumps(body)
        readings = decode_strict(payload)
        assert readings is not None, payload
        assert len(readings) == len(validate(body))

    @settings(max_examples=1500, deadline=None)
    @given(
        time=rfc3339_or_not,
        # JSON Schema cannot tell 5.0 from 5 (one number in JSON's data model), msgspec can:
        # whole numbers are written as integers here, as meters write them (see TestLenience).
        index=st.none()
        | st.integers(-5, 10**13)
        | st.floats(-5, 5).filter(lambda x: not x.is_integer())
        | st.text(max_size=3),
        flow=st.none() | st.floats(-2e6, 2e6) | st.integers(-2 * 10**6, 2 * 10**6),
        battery=st.none() | st.integers(-5, 105) | st.sampled_from([50.5, "50", True]),
        alarms=st.lists(st.sampled_from([*AlarmName, "smoke", 1]), max_size=7),
        extra=st.dictionaries(st.sampled_from(["colour", "readings"]), st.none(), max_size=1),
        batch=st.integers(0, 2),
    )
    def test_the_strict_decoder_takes_exactly_what_the_schema_validates(
        self, time, index, flow, battery, alarms, extra, batch
    ):
        reading = {"time": time, "index_l": index, "alarms": alarms, **extra}
        if flow is not None:
            reading["flow_lph"] = flow
        if battery is not None:
            reading["battery_pct"] = battery
        body = {"readings": [reading] * batch} if batch else reading
        assert (decode_strict(orjson.dumps(body)) is not None) == schema_accepts(body), body


class TestLenience:
    """Where the decoder and the schema differ, on purpose, and which way."""

    def test_a_whole_float_index_is_refused_though_the_schema_cannot_say_so(self):
        body = {"time": "2026-11-24T06:00:00Z", "index_l": 5.0}
        assert schema_accepts(body)
        assert decode_strict(orjson.dumps(body)) is None
        with pytest.raises(SchemaViolation, match="index_l: Input should be a valid integer"):
            validate(body)

    def test_a_whole_float_battery_is_left_to_the_models_which_take_it(self):
        body = {"time": "2026-11-24T06:00:00Z", "index_l": 5, "battery_pct": 50.0}
        assert schema_accepts(body)
        assert decode_strict(orjson.dumps(body)) is None
        assert validate(body)[0].battery_pct == 50

    @pytest.mark.parametrize("time", ["2026-11-24 06:00:00Z", "2026-11-24T06:00:00+0530"])
    def test_iso_8601_spellings_the_rfc_3339_checker_refuses_are_taken(self, time):
        body = {"time": time, "index_l": 5}
        assert not schema_accepts(body)
        assert decode_strict(orjson.dumps(body)) is not None

    @pytest.mark.parametrize("time", [1795500000, 253402300799, 0, -1, "1795500000"])
    def test_epoch_times_are_refused_by_the_schema_and_both_decoders(self, time):
        body = {"time": time, "index_l": 5}
        assert not schema_accepts(body)
        assert decode_strict(orjson.dumps(body)) is None
        with pytest.raises(SchemaViolation, match="epoch numbers are refused"):
            validate(body)

    def test_the_schema_names_the_one_time_format(self):
        description = json_schema()["$defs"]["ReadingIn"]["properties"]["time"]["description"]
        assert "ISO 8601" in description
        assert "offset" in description
        assert "Epoch numbers are refused" in description
