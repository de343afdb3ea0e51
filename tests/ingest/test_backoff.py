"""Reconnection waits: doubled, capped at a few seconds, jittered."""

from __future__ import annotations

from core.config import Settings
from ingest.consumer import INITIAL_BACKOFF_S, Worker


def test_waits_double_up_to_the_cap_and_are_jittered():
    worker = Worker(Settings(), shards=[0])
    cap = worker.settings.ingest.reconnect_max_s
    assert cap <= 5
    waits = []
    backoff = INITIAL_BACKOFF_S
    for _ in range(200):
        backoff = worker._next_backoff(backoff)
        waits.append(backoff)
    assert all(0 < wait <= cap for wait in waits)
    assert all(wait >= cap / 2 for wait in waits[20:])
    assert len(set(waits[20:])) > 100
