from datetime import UTC, datetime

import jsonschema
import numpy as np
import orjson
import pytest

from core.exceptions import InvalidInput
from simulators.fleet import Fleet, FleetConfig, deliver
from wire.schema import BatchIn, ReadingIn, json_schema
from wire.topics import serial_from_topic

# A slot well after the anchor: hourly readings, 2025-06 or so.
FIRST_SLOT = 24 * 160


def truth_of(uploads):
    return {(r.serial, r.time, r.index_l) for upload in uploads for r in upload.readings}


def stored_from(messages):
    """What a perfect consumer would store: readings keyed by (serial, device time)."""
    stored = set()
    for topic, payload in messages:
        serial = serial_from_topic("wb", topic)
        body = orjson.loads(payload)
        for reading in body.get("readings", [body]):
            time = datetime.fromisoformat(reading["time"])
            stored.add((serial, time, reading["index_l"]))
    return stored


def all_uploads(fleet, slots):
    return [u for batch in fleet.uploads(FIRST_SLOT, FIRST_SLOT + slots - 1) for u in batch]


class TestFleetConfig:
    def test_every_problem_is_named(self):
        config = FleetConfig(meters=0, interval_s=7, batch=0, duplicate_p=2.0)
        with pytest.raises(InvalidInput) as caught:
            config.check()
        for expected in ("meters", "interval 7 s", "batch 0", "duplicate_p"):
            assert expected in caught.value.message


class TestReadings:
    def test_index_is_monotone_and_counts_the_whole_litres_used(self):
        fleet = Fleet(FleetConfig(meters=50, interval_s=900))
        _, index, flow = fleet.readings(96 * 200, 96 * 3)
        steps = np.diff(index, axis=1)
        assert steps.min() >= 0
        used_l = flow[:, 1:].sum(axis=1) * 900 / 3600
        # The index is the floor of the cumulative volume: it trails by less than one litre.
        assert np.all(np.abs(steps.sum(axis=1) - used_l) < 1.0 + 1e-6)

    def test_index_rolls_over_at_the_register_size(self):
        fleet = Fleet(FleetConfig(meters=20, register_digits=4))
        _, index, _ = fleet.readings(24 * 300, 24 * 10)
        assert index.max() < 10**4
        assert (np.diff(index, axis=1) < 0).any()

    def test_same_seed_same_readings(self):
        first = Fleet(FleetConfig(meters=10, seed=3)).readings(5000, 48)[1]
        second = Fleet(FleetConfig(meters=10, seed=3)).readings(5000, 48)[1]
        assert np.array_equal(first, second)


class TestUploads:
    def test_batches_carry_batch_readings_and_validate(self):
        fleet = Fleet(FleetConfig(meters=5, batch=24))
        uploads = fleet.slot_uploads(160)
        assert len(uploads) == 5
        schema = json_schema()
        for upload in uploads:
            batch = BatchIn.model_validate_json(upload.payload)
            assert len(batch.readings) == 24
            jsonschema.validate(orjson.loads(upload.payload), schema)
            assert serial_from_topic("wb", upload.topic) == upload.serial

    def test_single_readings_validate(self):
        fleet = Fleet(FleetConfig(meters=5))
        schema = json_schema()
        for upload in fleet.slot_uploads(FIRST_SLOT):
            ReadingIn.model_validate_json(upload.payload)
            jsonschema.validate(orjson.loads(upload.payload), schema)

    def test_uploads_are_in_sending_order(self):
        fleet = Fleet(FleetConfig(meters=30))
        sends = [u.send_at for u in all_uploads(fleet, 5)]
        assert sends == sorted(sends)

    def test_drift_moves_device_timestamps_within_the_bound(self):
        clean = [r for u in all_uploads(Fleet(FleetConfig(meters=40)), 24) for r in u.readings]
        drifting = [
            r
            for u in all_uploads(Fleet(FleetConfig(meters=40, max_drift_s=30, drift_ppm=100)), 24)
            for r in u.readings
        ]
        assert [(r.serial, r.index_l) for r in drifting] == [(r.serial, r.index_l) for r in clean]
        skews = [(d.time - c.time).total_seconds() for d, c in zip(drifting, clean, strict=True)]
        # 30 s offset + 100 ppm over at most a day since the daily sync (8.64 s), rounded.
        assert max(abs(s) for s in skews) <= 30 + 8.64 + 1
        assert sum(1 for s in skews if abs(s) >= 1) > len(skews) / 2
        assert all(r.time.microsecond == 0 for r in drifting)


class TestDeliver:
    def test_ground_truth_survives_duplicates_and_reordering(self):
        fleet = Fleet(FleetConfig(meters=40, batch=4, max_drift_s=20))
        uploads = all_uploads(fleet, 12)
        sent = [(u.topic, u.payload) for u in uploads]
        delivered = list(deliver(sent, duplicate_p=0.2, out_of_order_p=0.3, window=25, seed=5))
        assert len(delivered) > len(sent)
        assert delivered != sent
        assert sorted(set(delivered)) == sorted(set(sent))
        assert stored_from(delivered) == truth_of(uploads)
        assert len(truth_of(uploads)) == 40 * 4 * 12

    def test_late_messages_stay_within_the_window(self):
        sent = [("t", str(i).encode()) for i in range(2000)]
        delivered = [
            int(p) for _, p in deliver(sent, duplicate_p=0.0, out_of_order_p=0.5, window=10, seed=1)
        ]
        assert sorted(delivered) == list(range(2000))
        lateness = [position - number for position, number in enumerate(delivered)]
        assert max(lateness) <= 10
        assert min(lateness) >= -10
        assert delivered != sorted(delivered)

    def test_no_faults_no_change(self):
        sent = [("t", str(i).encode()) for i in range(100)]
        assert list(deliver(sent, duplicate_p=0.0, out_of_order_p=0.0, window=10, seed=1)) == sent


def test_reading_times_are_utc_aware():
    upload = Fleet(FleetConfig(meters=1)).slot_uploads(FIRST_SLOT)[0]
    assert upload.readings[0].time.tzinfo == UTC
