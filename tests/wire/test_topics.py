"""The topic scheme: a meter's uplink topic, its shard, and back to its serial."""

from __future__ import annotations

import pytest

from wire.topics import serial_from_topic, shard_of, subscription_topic, uplink_topic


class TestUplinkTopic:
    def test_round_trips_to_the_serial(self):
        assert serial_from_topic("wb", uplink_topic("wb", 16, "ABC-1")) == "ABC-1"

    def test_lands_on_the_meters_shard(self):
        assert uplink_topic("wb", 16, "ABC-1") == f"wb/{shard_of('ABC-1', 16)}/meters/ABC-1/up"


class TestShardOf:
    def test_is_crc32_so_every_process_agrees(self):
        # zlib.crc32(b"ABC-1") == 0x91847F1E, written out so a change of hash cannot slip in.
        assert shard_of("ABC-1", 16) == 0x91847F1E % 16


class TestSubscriptionTopic:
    def test_covers_one_shard(self):
        assert subscription_topic("wb", 3) == "wb/3/meters/+/up"


class TestSerialFromTopic:
    @pytest.mark.parametrize(
        "topic",
        ["wb/3/meters/A1/up", "other/3/meters/ABC/up", "wb/x/meters/ABC/up", "wb/3/ABC", ""],
    )
    def test_is_none_for_topics_not_ours(self, topic):
        assert serial_from_topic("wb", topic) is None
