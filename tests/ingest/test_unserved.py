"""Which topics count as served (some shard subscription matches) and the rate-limited WARNING."""

from __future__ import annotations

import logging

import pytest

from ingest.unserved import UnservedTopics


class TestIsServed:
    @pytest.mark.parametrize(
        "topic", ["wb/0/meters/WB-1/up", "wb/15/meters/WB-1/up", "wb/3/meters/not a serial!/up"]
    )
    def test_a_shard_subscription_matches(self, topic, clock):
        assert UnservedTopics("wb", 16, 60, clock).is_served(topic)

    @pytest.mark.parametrize(
        "topic",
        [
            "wb/16/meters/WB-1/up",
            "wb/03/meters/WB-1/up",
            "wb/3/meters/WB-1/down",
            "wb/3/meter/WB-1/up",
            "wb/status",
            "wb/3/meters/WB-1/up/extra",
            "xx/3/meters/WB-1/up",
        ],
    )
    def test_anything_else_is_unserved(self, topic, clock):
        assert not UnservedTopics("wb", 16, 60, clock).is_served(topic)


class TestWarnings:
    def test_one_line_at_once_then_one_per_interval_with_the_count(self, clock, caplog):
        caplog.set_level(logging.WARNING, logger="ingest.unserved")
        unserved = UnservedTopics("wb", 16, 60, clock)
        stray = (b"wb/99/meters/WB-1/up", b"{}", 1)
        unserved.on_publish([stray])
        unserved.on_publish([stray] * 500 + [(b"wb/1/meters/WB-1/up", b"{}", 2)])
        clock.now += 61
        unserved.tick()
        lines = [r.getMessage() for r in caplog.records]
        assert len(lines) == 2
        assert lines[0].startswith("1 message on topics no ingest worker serves")
        assert lines[1].startswith("500 messages on topics no ingest worker serves")
        assert "'wb/99/meters/WB-1/up'" in lines[1]
