"""Silent meter: no data for longer than its reporting interval allows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Self

import numpy as np
from sklearn.base import BaseEstimator

from analytics.anomalies.detectors.detection import Detection, to_datetime
from analytics.arrays import IntArray, TimeArray
from analytics.incidents.models import IncidentKind, Severity


class SilentMeterDetector(BaseEstimator):  # type: ignore[misc]
    """No data for longer than the meter's reporting interval allows (fleet-wide, vectorised).

    Args:
        missed_intervals: reports that may be missed before the meter counts as silent.
        min_silence_s: silence shorter than this never counts (radio hiccups on 15-minute meters).
        critical_s: silence from which the incident is critical (billing will need estimates).
    """

    def __init__(
        self,
        missed_intervals: float = 3.0,
        min_silence_s: int = 6 * 3600,
        critical_s: int = 3 * 86400,
    ) -> None:
        self.missed_intervals = missed_intervals
        self.min_silence_s = min_silence_s
        self.critical_s = critical_s

    def fit(self, interval_s: IntArray) -> Self:
        """Nothing to learn: each meter's interval is configuration. Kept for the contract."""
        self.n_meters_fit_ = len(interval_s)
        return self

    def allowed_s(self, interval_s: IntArray) -> IntArray:
        allowed: IntArray = np.maximum(
            (interval_s * self.missed_intervals).astype(np.int64), self.min_silence_s
        )
        return allowed

    def detect(
        self, last_time: TimeArray, interval_s: IntArray, *, now: datetime
    ) -> list[tuple[int, Detection]]:
        """(position in the input, detection) for each silent meter."""
        now64 = np.datetime64(int(now.timestamp()), "s")
        until = np.full(len(last_time), now64)
        return self._silences(last_time, until, interval_s, last_seen=lambda _: now, closed=False)

    def detect_gaps(
        self, last_time: TimeArray, next_time: TimeArray, interval_s: IntArray
    ) -> list[tuple[int, Detection]]:
        """(position, detection) for each gap between readings longer than allowed: a silence
        that opened and closed between two scans, over at the reading that ended it."""
        return self._silences(
            last_time,
            next_time,
            interval_s,
            last_seen=lambda i: to_datetime(next_time[i]),
            closed=True,
        )

    def _silences(
        self,
        last_time: TimeArray,
        until: TimeArray,
        interval_s: IntArray,
        *,
        last_seen: Callable[[int], datetime],
        closed: bool,
    ) -> list[tuple[int, Detection]]:
        """Silences from ``last_time`` to ``until`` longer than allowed; ``closed``: ``until``
        is the reading that ended each one."""
        silence = (until.astype("datetime64[s]") - last_time.astype("datetime64[s]")).astype(
            np.int64
        )
        allowed = self.allowed_s(interval_s)
        found = []
        for i in np.flatnonzero(silence > allowed):
            seconds, seen = int(silence[i]), last_seen(int(i))
            evidence: dict[str, object] = {
                "summary": (
                    f"no data for {round(seconds / 3600, 1)} h; reporting interval "
                    f"{int(interval_s[i])} s, silent after {int(allowed[i])} s"
                ),
                "last_data_at": to_datetime(last_time[i]).isoformat(),
                "reporting_interval_s": int(interval_s[i]),
                "allowed_s": int(allowed[i]),
            }
            if closed:
                evidence["next_data_at"] = seen.isoformat()
            detection = Detection(
                kind=IncidentKind.SILENT,
                severity=Severity.CRITICAL if seconds >= self.critical_s else Severity.WARNING,
                started_at=to_datetime(last_time[i] + np.timedelta64(int(interval_s[i]), "s")),
                ended_at=seen if closed else None,
                last_seen_at=seen,
                evidence=evidence,
            )
            found.append((int(i), detection))
        return found
