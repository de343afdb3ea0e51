"""What every detector returns, and the helpers they share to build it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from analytics.anomalies.features import ReadingSeries, runs
from analytics.arrays import BoolArray
from analytics.incidents.models import IncidentKind, Severity


@dataclass(frozen=True)
class Detection:
    """One anomaly found in a window: ``ended_at`` is None while it is still going on;
    ``from_window_start`` when it was already there when the window began (it may be older)."""

    kind: IncidentKind
    severity: Severity
    started_at: datetime
    ended_at: datetime | None
    last_seen_at: datetime
    evidence: dict[str, Any] = field(default_factory=dict)
    from_window_start: bool = False


def to_datetime(value: np.datetime64) -> datetime:
    """A numpy UTC instant as an aware datetime."""
    seconds = int(value.astype("datetime64[s]").astype(np.int64))
    return datetime.fromtimestamp(seconds, tz=UTC)


def rounded(value: float) -> float:
    """Evidence figures to one decimal: enough for a person to check, stable across re-runs."""
    return round(float(value), 1)


def reading_runs(
    flagged: BoolArray, readings: ReadingSeries
) -> list[tuple[int, int, datetime, datetime | None, datetime]]:
    """Runs of flagged readings as (start, stop, started_at, ended_at or None, last_seen_at)."""
    n = len(flagged)
    return [
        (
            start,
            stop,
            to_datetime(readings.time[start]),
            None if stop == n else to_datetime(readings.time[stop]),
            to_datetime(readings.time[stop - 1]),
        )
        for start, stop in runs(flagged)
    ]
