"""Quarantine logging: a count per reason per interval, not a line per message."""

from __future__ import annotations

import logging

import pytest

from ingest.decoder import Reason, Rejection
from ingest.quarantine_log import QuarantineLog


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "ingest.quarantine"]


def bad(n: int, reason: Reason = Reason.MALFORMED_JSON) -> list[Rejection]:
    return [Rejection(reason, f"detail {i}") for i in range(n)]


class TestQuarantineLog:
    def test_a_burst_is_one_line_per_reason_per_interval(self, clock, caplog):
        caplog.set_level(logging.WARNING)
        log = QuarantineLog(60, clock=clock)
        log.add(bad(1))  # after a quiet interval: at once
        for _ in range(100):
            clock.now += 0.1
            log.add(bad(100) + bad(3, Reason.UNKNOWN_METER))
        assert len(lines(caplog)) == 1
        clock.now += 60
        log.tick()
        assert lines(caplog)[1:] == [
            "quarantined 10000 messages (malformed_json) in 60 s; latest: detail 99",
            "quarantined 300 messages (unknown_meter) in 60 s; latest: detail 2",
        ]

    def test_flush_logs_what_is_counted_and_nothing_when_quiet(self, clock, caplog):
        caplog.set_level(logging.WARNING)
        log = QuarantineLog(60, clock=clock)
        log.add(bad(1))
        log.add(bad(2, Reason.INDEX_JUMP))
        log.flush()
        log.flush()
        clock.now += 120
        log.tick()
        assert lines(caplog) == [
            "quarantined 1 message (malformed_json) in 60 s; latest: detail 0",
            "quarantined 2 messages (index_jump) in 0 s; latest: detail 1",
        ]
