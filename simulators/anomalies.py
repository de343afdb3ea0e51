"""Injected anomalies with their ground-truth labels, as demand modifiers.

Each anomaly changes one meter's consumption (``simulators.demand.DemandModifier``) and says
what it is (``label``), so detectors can be scored against the truth. Volumes are integrated in
integer millilitres over time, so the register index stays exact and the same whichever way the
time is cut into days and steps.

Meter-side faults (stuck register, silent meter, tamper alarms) act on what the meter sends
rather than on the household's use, and belong to the fleet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import numpy as np

from simulators.demand import ANCHOR_DATE, IntArray, local_day_start


@dataclass(frozen=True)
class Label:
    """Ground truth of one injected anomaly (a negative example when ``anomalous`` is False)."""

    meter: int
    kind: str
    start: datetime
    end: datetime | None
    flow_lph: float | None
    anomalous: bool


def _epoch(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("anomaly times must carry a time zone")
    return int(moment.timestamp())


@dataclass(frozen=True)
class ExtraFlow:
    """Water running on top of the household's use from ``start`` (to ``end`` if given).

    A leak is a small flow that does not stop (a running toilet is ~5-30 L/h); a burst is a
    large one for a short while (hundreds of L/h).
    """

    meter: int
    start: datetime
    flow_lph: float
    end: datetime | None = None
    kind: str = "leak"

    def _volume_ml(self, at_s: IntArray) -> IntArray:
        """Volume run from ``start`` up to ``at_s``, whole millilitres (exact, monotone)."""
        begin = _epoch(self.start)
        stop = np.iinfo(np.int64).max if self.end is None else _epoch(self.end)
        elapsed = np.clip(np.minimum(at_s, stop) - begin, 0, None)
        rate_ml_per_h = round(self.flow_lph * 1000)
        return np.asarray(elapsed * rate_ml_per_h // 3600, dtype=np.int64)

    def adjust(
        self, meters: IntArray, starts_s: IntArray, ends_s: IntArray, volumes_ml: IntArray
    ) -> None:
        rows = np.flatnonzero(meters == self.meter)
        if rows.size:
            volumes_ml[rows] += self._volume_ml(ends_s) - self._volume_ml(starts_s)

    @property
    def label(self) -> Label:
        return Label(self.meter, self.kind, self.start, self.end, self.flow_lph, anomalous=True)


@dataclass(frozen=True)
class Vacancy:
    """No one home from ``first_day`` to ``last_day`` (local days): zero use, not an anomaly.

    Detectors must not flag it as a stuck meter or a leak, and holidays have the same shape:
    negatives for the scoring. Whole local days, so days and steps agree on what is zeroed.
    """

    meter: int
    first_day: date
    last_day: date
    utc_offset_s: int
    kind: str = "vacancy"

    @property
    def start(self) -> datetime:
        return local_day_start((self.first_day - ANCHOR_DATE).days, self.utc_offset_s)

    @property
    def end(self) -> datetime:
        return local_day_start((self.last_day - ANCHOR_DATE).days + 1, self.utc_offset_s)

    def adjust(
        self, meters: IntArray, starts_s: IntArray, ends_s: IntArray, volumes_ml: IntArray
    ) -> None:
        rows = np.flatnonzero(meters == self.meter)
        inside = (starts_s >= _epoch(self.start)) & (ends_s <= _epoch(self.end))
        if rows.size and inside.any():
            volumes_ml[np.ix_(rows, np.flatnonzero(inside))] = 0

    @property
    def label(self) -> Label:
        return Label(self.meter, self.kind, self.start, self.end, None, anomalous=False)
