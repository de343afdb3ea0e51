"""The pure decoder: every shape it accepts, and each reason code it gives."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from core.config_ingest import IngestSettings
from ingest.decoder import OVERSIZE_KEPT_BYTES, Reason, Rejection, decode
from ingest.service import Limits, receive
from wire.alarms import Alarm, AlarmName
from wire.codec import encode_reading

MAX_PAYLOAD_BYTES = IngestSettings().max_payload_bytes
NOW = datetime(2026, 11, 24, 12, tzinfo=UTC).timestamp()
T = datetime(2026, 11, 24, 6, tzinfo=UTC)


def run(body: object) -> Any:
    payload = body if isinstance(body, bytes) else orjson.dumps(body)
    return decode(payload, now=NOW, max_future_s=600, max_payload_bytes=MAX_PAYLOAD_BYTES)


def reason_of(body: object) -> Reason:
    result = run(body)
    assert isinstance(result, Rejection), result
    return result.reason


class TestDecodeAccepts:
    def test_one_reading_with_every_field(self):
        body = encode_reading(
            T,
            1234567,
            flow_lph=12.5,
            battery_pct=87,
            signal_dbm=-71,
            alarms=[AlarmName.LEAK, AlarmName.TAMPER],
        )
        assert run(body) == [(T, 1234567, 12.5, 87, -71, int(Alarm.LEAK | Alarm.TAMPER))]

    def test_a_batch_keeps_order(self):
        body = {"readings": [encode_reading(T, 10), encode_reading(T.replace(hour=7), 12)]}
        assert [row[:2] for row in run(body)] == [(T, 10), (T.replace(hour=7), 12)]

    def test_offsets_mean_the_same_instant(self):
        offset = run({"time": "2026-11-24T16:00:00+10:00", "index_l": 1})
        utc = run({"time": "2026-11-24T06:00:00Z", "index_l": 1})
        assert offset[0][0] == utc[0][0] == T

    def test_the_first_second_of_2000_is_accepted(self):
        assert run({"time": "2000-01-01T00:00:00Z", "index_l": 1})[0][0].year == 2000

    def test_shapes_off_the_fast_path_are_judged_by_the_schema(self):
        # An integer-valued float and a numeric string are what pydantic's lax mode accepts.
        assert run({"time": T.isoformat(), "index_l": 5, "battery_pct": 50.0})[0][3] == 50

    def test_a_little_clock_drift_is_accepted(self):
        assert not isinstance(run({"time": "2026-11-24T12:09:00Z", "index_l": 1}), Rejection)


class TestDecodeRejects:
    @pytest.mark.parametrize(
        "payload", [b"", b"{", b"not json", b"\xff\xfe", b'{"time": NaN}', b"[1,2"]
    )
    def test_malformed_json(self, payload):
        assert reason_of(payload) is Reason.MALFORMED_JSON

    @pytest.mark.parametrize(
        "body",
        [
            [],
            42,
            {},
            {"time": "2026-11-24T06:00:00", "index_l": 1},
            {"time": "yesterday", "index_l": 1},
            {"time": "2026-11-24T06:00:00Z", "index_l": -1},
            {"time": "2026-11-24T06:00:00Z", "index_l": 1.5},
            {"time": "2026-11-24T06:00:00Z", "index_l": "12"},
            {"time": "2026-11-24T06:00:00Z", "index_l": 10**12},
            {"time": "2026-11-24T06:00:00Z", "index_l": 1, "battery_pct": 101},
            {"time": "2026-11-24T06:00:00Z", "index_l": 1, "alarms": ["fire"]},
            {"time": "2026-11-24T06:00:00Z", "index_l": 1, "colour": "blue"},
            {"readings": []},
            {"readings": [{"time": "2026-11-24T06:00:00Z"}]},
            {"readings": [{"time": "2026-11-24T06:00:00Z", "index_l": 1}] * 1001},
        ],
    )
    def test_schema_violation(self, body):
        assert reason_of(body) is Reason.SCHEMA_VIOLATION

    def test_schema_violation_names_the_field(self):
        result = run({"time": "2026-11-24T06:00:00Z", "index_l": 1, "signal_dbm": 5})
        assert isinstance(result, Rejection)
        assert "signal_dbm" in result.detail

    def test_future_timestamp(self):
        assert reason_of({"time": "2026-11-24T12:11:00Z", "index_l": 1}) is Reason.FUTURE_TIMESTAMP

    def test_one_future_reading_rejects_its_batch(self):
        body = {"readings": [encode_reading(T, 1), {"time": "2027-01-01T00:00:00Z", "index_l": 2}]}
        assert reason_of(body) is Reason.FUTURE_TIMESTAMP

    @pytest.mark.parametrize("time", [253402300799, 0, -1, int(T.timestamp()), "253402300799"])
    def test_epoch_numbers_are_a_schema_violation(self, time):
        result = run({"time": time, "index_l": 1})
        assert isinstance(result, Rejection)
        assert result.reason is Reason.SCHEMA_VIOLATION
        assert "epoch numbers are refused" in result.detail

    @pytest.mark.parametrize(
        "time",
        [
            "1999-12-31T23:59:59Z",
            "2000-01-01T09:59:59+10:00",
            "1970-01-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
            "0001-01-01T00:00:00Z",
        ],
    )
    def test_a_time_before_2000_is_implausible(self, time):
        result = run({"time": time, "index_l": 1})
        assert isinstance(result, Rejection)
        assert result.reason is Reason.IMPLAUSIBLE_TIME
        assert "before 2000-01-01" in result.detail

    def test_year_9999_is_in_the_future(self):
        assert reason_of({"time": "9999-12-31T23:59:59Z", "index_l": 1}) is Reason.FUTURE_TIMESTAMP

    def test_one_implausible_reading_rejects_its_batch(self):
        body = {"readings": [encode_reading(T, 1), {"time": "1999-01-01T00:00:00Z", "index_l": 2}]}
        assert reason_of(body) is Reason.IMPLAUSIBLE_TIME

    def test_payload_too_large(self):
        assert reason_of(b" " * (MAX_PAYLOAD_BYTES + 1)) is Reason.PAYLOAD_TOO_LARGE

    def test_payload_at_the_limit_is_decoded(self):
        body = orjson.dumps(encode_reading(T, 1))
        assert run(body + b" " * (MAX_PAYLOAD_BYTES - len(body)))[0][1] == 1


class TestReceive:
    LIMITS = Limits(
        topic_prefix="wb",
        max_future_s=600,
        max_flow_lph=50_000,
        max_payload_bytes=MAX_PAYLOAD_BYTES,
    )

    @pytest.mark.parametrize(
        "topic", ["wb/3/meters/A1/up", "other/3/meters/ABC/up", "wb/x/meters/ABC/up", "wb/3/ABC"]
    )
    def test_bad_topic(self, topic):
        message = receive(topic, b"{}", limits=self.LIMITS, now=NOW)
        assert isinstance(message.rows, Rejection)
        assert message.rows.reason is Reason.BAD_TOPIC

    def test_an_oversize_message_keeps_its_first_kib_and_says_its_size(self):
        payload = b"x" * (MAX_PAYLOAD_BYTES + 10)
        message = receive("wb/3/meters/ABC-1/up", payload, limits=self.LIMITS, now=NOW)
        assert isinstance(message.rows, Rejection)
        assert message.rows.reason is Reason.PAYLOAD_TOO_LARGE
        assert message.rows.detail.startswith(f"{MAX_PAYLOAD_BYTES + 10} bytes, at most")
        assert message.payload == payload[:OVERSIZE_KEPT_BYTES]

    def test_an_oversize_message_on_a_bad_topic_is_trimmed_too(self):
        payload = b"x" * (MAX_PAYLOAD_BYTES + 10)
        message = receive("nowhere", payload, limits=self.LIMITS, now=NOW)
        assert len(message.payload) == OVERSIZE_KEPT_BYTES

    def test_serial_comes_from_the_topic(self):
        payload = orjson.dumps(encode_reading(T, 1))
        message = receive("wb/3/meters/ABC-1/up", payload, limits=self.LIMITS, now=NOW)
        assert message.serial == "ABC-1"
        assert message.rows == [(T, 1, None, None, None, 0)]
