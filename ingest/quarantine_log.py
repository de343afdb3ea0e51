"""Quarantine logging with counts: one line per reason per interval, never one per message.

A burst of bad messages (a misconfigured fleet, a hostile client) must not flood the log; the
per-message record is the quarantine table, and the per-message count is the
``waterbill_ingest_quarantined`` metric.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable

from ingest.decoder import Reason, Rejection

logger = logging.getLogger("ingest.quarantine")


class QuarantineLog:
    """Counts rejections; ``flush`` logs what was counted, ``tick`` once per interval."""

    def __init__(self, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s
        self.clock = clock
        self.counts: Counter[Reason] = Counter()
        self.latest: dict[Reason, str] = {}
        # A first rejection after a quiet interval is logged at once.
        self.since = clock() - interval_s

    def add(self, rejections: Iterable[Rejection]) -> None:
        for rejection in rejections:
            self.counts[rejection.reason] += 1
            self.latest[rejection.reason] = rejection.detail
        self.tick()

    def tick(self) -> None:
        if self.counts and self.clock() - self.since >= self.interval_s:
            self.flush()

    def flush(self) -> None:
        now = self.clock()
        for reason, count in sorted(self.counts.items()):
            logger.warning(
                "quarantined %d message%s (%s) in %.0f s; latest: %s",
                count,
                "" if count == 1 else "s",
                reason.value,
                min(now - self.since, self.interval_s),
                self.latest[reason],
            )
        self.counts.clear()
        self.latest.clear()
        self.since = now
