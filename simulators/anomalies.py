"""Injected anomalies with their ground-truth labels, as demand modifiers.

Each anomaly changes one meter's consumption (``simulators.demand.DemandModifier``) and says
what it is (``label``), so detectors can be scored against the truth. Volumes are integrated in
integer millilitres over time, so the register index stays exact and the same whichever way the
time is cut into days and steps.

Meter-side faults (stuck register, silent meter, tamper alarms) act on what the meter sends
rather than on the household's use (``simulators.fleet.MeterFault``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from simulators.demand import ANCHOR_DATE, IntArray, hashed_uniform, local_day_start
from simulators.fleet import Fleet, SlotReadings, serial_of
from wire.alarms import Alarm


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
    anomalous: bool = True

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
        return Label(
            self.meter, self.kind, self.start, self.end, self.flow_lph, anomalous=self.anomalous
        )


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


def _window(readings: SlotReadings, start: datetime, end: datetime | None) -> IntArray:
    """Columns of the slot whose reading time falls in (start, end]."""
    after = readings.times > start.timestamp()
    before = np.ones_like(after) if end is None else readings.times <= end.timestamp()
    return np.flatnonzero(after & before)


@dataclass(frozen=True)
class Stuck:
    """The register stops turning at ``start`` (worn or jammed mechanism) while water flows:
    the meter keeps reporting the same index and no flow, until it is replaced."""

    meter: int
    start: datetime
    kind: str = "stuck"
    _frozen: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def apply(self, fleet: Fleet, readings: SlotReadings) -> None:
        row = fleet.row_of(self.meter)
        cols = _window(readings, self.start, None)
        if row is None or not cols.size:
            return
        if "index" not in self._frozen:
            self._frozen["index"] = fleet.index_at(self.meter, self.start)
        readings.index_l[row, cols] = self._frozen["index"]
        readings.flow_lph[row, cols] = 0.0

    @property
    def label(self) -> Label:
        return Label(self.meter, self.kind, self.start, None, None, anomalous=True)


@dataclass(frozen=True)
class Silent:
    """The meter sends nothing from ``start`` (to ``end``): dead battery, lost radio."""

    meter: int
    start: datetime
    end: datetime | None = None
    kind: str = "silent"

    def apply(self, fleet: Fleet, readings: SlotReadings) -> None:
        row = fleet.row_of(self.meter)
        if row is not None:
            readings.sent[row, _window(readings, self.start, self.end)] = False

    @property
    def label(self) -> Label:
        return Label(self.meter, self.kind, self.start, self.end, None, anomalous=True)


@dataclass(frozen=True)
class Tamper:
    """The meter raises its tamper alarm (magnet, opened case) from ``start`` to ``end``."""

    meter: int
    start: datetime
    end: datetime
    kind: str = "tamper"

    def apply(self, fleet: Fleet, readings: SlotReadings) -> None:
        row = fleet.row_of(self.meter)
        if row is not None:
            readings.alarms[row, _window(readings, self.start, self.end)] |= int(Alarm.TAMPER)

    @property
    def label(self) -> Label:
        return Label(self.meter, self.kind, self.start, self.end, None, anomalous=True)


@dataclass(frozen=True)
class Injection:
    """Anomalies for a fleet: what changes use (modifiers), what changes the meters (faults)."""

    modifiers: tuple[ExtraFlow | Vacancy, ...] = ()
    faults: tuple[Stuck | Silent | Tamper, ...] = ()

    @property
    def labels(self) -> list[Label]:
        return [a.label for a in (*self.modifiers, *self.faults)]


KINDS = ("leak", "burst", "backflow", "stuck", "silent", "tamper", "vacancy")
# What the evaluation fleet carries: the anomalies, then the negatives detectors must leave
# alone (a dwelling left vacant, a holiday of zero use, one long hot shower).
EVALUATION_KINDS = (*KINDS[:-1], "vacancy", "holiday", "shower")
NEGATIVE_KINDS = ("vacancy", "holiday", "shower")


def plan_injection(
    *, meters: int, count: int, start: datetime, end: datetime, seed: int, utc_offset_s: int
) -> Injection:
    """``count`` meters, drawn from the seed, each given one anomaly (kinds in turn) starting at
    a random time of [start, end)."""
    if count > meters:
        raise ValueError(f"cannot inject {count} anomalies into {meters} meters")
    numbers = np.argsort(hashed_uniform(seed, 40, np.arange(1, meters + 1)))[:count] + 1
    span = (end - start).total_seconds()
    modifiers: list[ExtraFlow | Vacancy] = []
    faults: list[Stuck | Silent | Tamper] = []
    for i, number in enumerate(numbers.tolist()):
        u = float(hashed_uniform(seed, 41, number)[0])
        at = (start + timedelta(seconds=u * span)).replace(microsecond=0)
        kind = KINDS[i % len(KINDS)]
        if kind == "leak":
            modifiers.append(ExtraFlow(number, at, flow_lph=round(5 + 25 * u, 1)))
        elif kind == "burst":
            end_at = at + timedelta(hours=2)
            modifiers.append(ExtraFlow(number, at, 300 + 600 * u, end=end_at, kind="burst"))
        elif kind == "backflow":
            end_at = at + timedelta(hours=1)
            modifiers.append(ExtraFlow(number, at, -40.0, end=end_at, kind="backflow"))
        elif kind == "stuck":
            faults.append(Stuck(number, at))
        elif kind == "silent":
            faults.append(Silent(number, at))
        elif kind == "tamper":
            faults.append(Tamper(number, at, at + timedelta(hours=6)))
        else:
            local = (at + timedelta(seconds=utc_offset_s)).date()
            modifiers.append(
                Vacancy(number, local, local + timedelta(days=6), utc_offset_s=utc_offset_s)
            )
    return Injection(tuple(modifiers), tuple(faults))


def plan_evaluation(
    *,
    meters: int,
    per_kind: int,
    start: datetime,
    end: datetime,
    seed: int,
    utc_offset_s: int,
) -> Injection:
    """``per_kind`` distinct meters for each of ``EVALUATION_KINDS``, each starting at a time
    drawn from the seed in [start, end); the other meters stay normal.

    Sizes are drawn too: leaks of 5-30 L/h (a dripping tap to a running toilet), bursts of
    300-900 L/h over 2-4 h, holidays of 2-10 days, showers of 500-720 L/h for 15-25 min (up to
    ~300 L in one hour). Reverse flow happens in the small hours (01:00-03:00 local): the
    simulator nets it against the household's use within a step, and a meter only sees the
    register go back when little else runs. A "vacancy" zeroes use from its start to ``end``
    plus a month, and its dwelling is to be registered vacant.
    """
    needed = per_kind * len(EVALUATION_KINDS)
    if needed > meters:
        raise ValueError(f"{len(EVALUATION_KINDS)} kinds x {per_kind} need {needed} meters")
    numbers = np.argsort(hashed_uniform(seed, 42, np.arange(1, meters + 1)))[:needed] + 1
    span = (end - start).total_seconds()
    modifiers: list[ExtraFlow | Vacancy] = []
    faults: list[Stuck | Silent | Tamper] = []
    for i, number in enumerate(numbers.tolist()):
        kind = EVALUATION_KINDS[i // per_kind]
        u = float(hashed_uniform(seed, 43, number)[0])
        v = float(hashed_uniform(seed, 44, number)[0])
        at = (start + timedelta(seconds=u * span)).replace(microsecond=0)
        local = (at + timedelta(seconds=utc_offset_s)).date()
        if kind == "leak":
            modifiers.append(ExtraFlow(number, at, flow_lph=round(5 + 25 * v, 1)))
        elif kind == "burst":
            hours = timedelta(hours=2 + 2 * v)
            modifiers.append(ExtraFlow(number, at, round(300 + 600 * v), at + hours, "burst"))
        elif kind == "backflow":
            night = local_day_start((local - ANCHOR_DATE).days, utc_offset_s) + timedelta(
                hours=1 + 2 * v
            )
            modifiers.append(
                ExtraFlow(
                    number, night, -round(30 + 50 * v), night + timedelta(hours=1), "backflow"
                )
            )
        elif kind == "stuck":
            faults.append(Stuck(number, at))
        elif kind == "silent":
            faults.append(Silent(number, at))
        elif kind == "tamper":
            faults.append(Tamper(number, at, at + timedelta(hours=2 + 10 * v)))
        elif kind == "vacancy":
            last = (end + timedelta(days=31)).date()
            modifiers.append(Vacancy(number, local, last, utc_offset_s=utc_offset_s))
        elif kind == "holiday":
            last = local + timedelta(days=1 + int(9 * v))
            modifiers.append(Vacancy(number, local, last, utc_offset_s, kind="holiday"))
        else:
            minutes = timedelta(minutes=15 + 10 * v)
            modifiers.append(
                ExtraFlow(number, at, round(500 + 220 * v), at + minutes, "shower", False)
            )
    return Injection(tuple(modifiers), tuple(faults))


def label_records(labels: Sequence[Label], serial_prefix: str) -> list[dict[str, Any]]:
    """Labels as JSON-ready records, keyed by serial (what the analytics side sees)."""
    return [
        {
            "serial": serial_of(label.meter, serial_prefix),
            "kind": label.kind,
            "start": label.start.astimezone(UTC).isoformat(),
            "end": label.end.astimezone(UTC).isoformat() if label.end else None,
            "flow_lph": label.flow_lph,
            "anomalous": label.anomalous,
        }
        for label in labels
    ]
