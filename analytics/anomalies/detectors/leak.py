"""Anomaly detectors, one per incident kind, following scikit-learn's estimator contract.

Hyperparameters (every threshold) are constructor arguments stored as given; ``fit`` learns what
is the meter's own normal (attributes ending in ``_``) and returns ``self``; ``detect`` turns a
window of data into :class:`Detection` s whose evidence holds numbers a person can check.

Rules where the physics is clear (leak, burst, backflow, stuck, silent, device alarms): a
threshold an operator can read and argue with beats a score. Learned (isolation forest over
dwellings of the same type) only for "abnormal consumption", where "normal" is a matter of
statistics, not physics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.ensemble import IsolationForest

from analytics.features import (
    NIGHT_HOURS,
    BoolArray,
    FloatArray,
    HourlySeries,
    IntArray,
    TimeArray,
    daily_features,
    reverse_volume_l,
    runs,
)
from analytics.models import IncidentKind, Severity
from ingest.payload import Alarm


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


@dataclass(frozen=True)
class ReadingSeries:
    """One meter's raw readings in time order (``flow_lph`` NaN where the device sent none)."""

    time: TimeArray
    index_l: IntArray
    flow_lph: FloatArray
    alarms: IntArray


def to_datetime(value: np.datetime64) -> datetime:
    """A numpy UTC instant as an aware datetime."""
    seconds = int(value.astype("datetime64[s]").astype(np.int64))
    return datetime.fromtimestamp(seconds, tz=UTC)


def _round(value: float) -> float:
    return round(float(value), 1)


class LeakDetector(BaseEstimator):  # type: ignore[misc]
    """Continuous flow: nights whose minimum flow stays above the meter's own baseline, on days
    without a single zero-flow hour.

    Zero use (vacancy, holidays) can never fire: a zero hour breaks the run.

    Args:
        min_nights: consecutive nights the condition must hold.
        min_excess_lph: how far above the baseline the night minimum must be (L/h).
        critical_lph: night minimum from which the leak is critical.
        baseline_quantile: quantile of past night minima taken as the meter's baseline.
        min_history_nights: fewer known past nights than this and the baseline is 0.
        min_coverage_h: hours of data a day needs to count.
        known_baseline_lph: the baseline recorded when the meter's live leak incident opened;
            the learned one never exceeds it, so a long leak does not become its own baseline.
    """

    def __init__(
        self,
        min_nights: int = 3,
        min_excess_lph: float = 5.0,
        critical_lph: float = 60.0,
        baseline_quantile: float = 0.1,
        min_history_nights: int = 7,
        min_coverage_h: int = 20,
        known_baseline_lph: float | None = None,
    ) -> None:
        self.min_nights = min_nights
        self.min_excess_lph = min_excess_lph
        self.critical_lph = critical_lph
        self.baseline_quantile = baseline_quantile
        self.min_history_nights = min_history_nights
        self.min_coverage_h = min_coverage_h
        self.known_baseline_lph = known_baseline_lph

    def fit(self, history: HourlySeries) -> Self:
        nights = daily_features(history).night_min_lph
        nights = nights[~np.isnan(nights)]
        learned = (
            float(np.quantile(nights, self.baseline_quantile))
            if len(nights) >= self.min_history_nights
            else 0.0
        )
        self.baseline_lph_ = (
            learned if self.known_baseline_lph is None else min(learned, self.known_baseline_lph)
        )
        return self

    def detect(self, series: HourlySeries) -> list[Detection]:
        days = daily_features(series)
        evaluable = (days.hours_covered >= self.min_coverage_h) & ~np.isnan(days.night_min_lph)
        if not evaluable.any():
            return []
        n = int(np.flatnonzero(evaluable)[-1]) + 1
        first = int(np.flatnonzero(evaluable)[0])
        leaking = (
            evaluable[:n]
            & (days.zero_hours[:n] == 0)
            & (days.night_min_lph[:n] >= self.baseline_lph_ + self.min_excess_lph)
        )
        found = []
        for start, stop in runs(leaking):
            if stop - start < self.min_nights:
                continue
            nights = days.night_min_lph[start:stop]
            low = float(nights.min())
            found.append(
                Detection(
                    kind=IncidentKind.LEAK,
                    severity=Severity.CRITICAL if low >= self.critical_lph else Severity.WARNING,
                    started_at=to_datetime(days.first_hour[start]),
                    ended_at=None if stop == n else to_datetime(days.first_hour[stop]),
                    last_seen_at=to_datetime(days.first_hour[stop - 1]),
                    from_window_start=start <= first,
                    evidence={
                        "summary": (
                            f"minimum night flow {_round(low)} L/h or more for {stop - start} "
                            f"nights, no zero-flow hour; baseline {_round(self.baseline_lph_)} L/h"
                        ),
                        "nights": stop - start,
                        "night_min_lph": [_round(v) for v in nights],
                        "baseline_lph": _round(self.baseline_lph_),
                        "night_hours": list(NIGHT_HOURS),
                        "first_night": str(days.day[start]),
                    },
                )
            )
        return found


class BurstDetector(BaseEstimator):  # type: ignore[misc]
    """Sustained high flow: hours at or above a threshold, for several hours in a row.

    One shower (an hour or less of ordinary flow) stays below both conditions.

    Args:
        min_flow_lph: absolute floor of the threshold (L/h, i.e. litres in the hour).
        peak_ratio: the threshold is also at least this times the meter's usual peak hour, so a
            restaurant's lunch rush is not a burst.
        peak_quantile: quantile of past hourly volumes taken as the usual peak.
        min_hours: consecutive hours above the threshold.
        critical_lph: mean flow from which the burst is critical.
    """

    def __init__(
        self,
        min_flow_lph: float = 300.0,
        peak_ratio: float = 2.0,
        peak_quantile: float = 0.99,
        min_hours: int = 2,
        critical_lph: float = 1000.0,
    ) -> None:
        self.min_flow_lph = min_flow_lph
        self.peak_ratio = peak_ratio
        self.peak_quantile = peak_quantile
        self.min_hours = min_hours
        self.critical_lph = critical_lph

    def fit(self, history: HourlySeries) -> Self:
        known = history.volume_l[~np.isnan(history.volume_l)]
        self.usual_peak_lph_ = float(np.quantile(known, self.peak_quantile)) if len(known) else 0.0
        self.threshold_lph_ = max(self.min_flow_lph, self.peak_ratio * self.usual_peak_lph_)
        return self

    def detect(self, series: HourlySeries) -> list[Detection]:
        known = ~np.isnan(series.volume_l)
        if not known.any():
            return []
        n = int(np.flatnonzero(known)[-1]) + 1
        first = int(np.flatnonzero(known)[0])
        high = known[:n] & (series.volume_l[:n] >= self.threshold_lph_)
        found = []
        for start, stop in runs(high):
            if stop - start < self.min_hours:
                continue
            volumes = series.volume_l[start:stop]
            mean = float(volumes.mean())
            found.append(
                Detection(
                    kind=IncidentKind.BURST,
                    severity=Severity.CRITICAL if mean >= self.critical_lph else Severity.WARNING,
                    started_at=to_datetime(series.hour_start[start]),
                    ended_at=None if stop == n else to_datetime(series.hour_start[stop]),
                    last_seen_at=to_datetime(series.hour_start[stop - 1]),
                    from_window_start=start <= first,
                    evidence={
                        "summary": (
                            f"{int(volumes.sum())} L in {stop - start} h (mean {_round(mean)} "
                            f"L/h); threshold {_round(self.threshold_lph_)} L/h, usual peak "
                            f"{_round(self.usual_peak_lph_)} L/h"
                        ),
                        "hours": stop - start,
                        "volume_l": int(volumes.sum()),
                        "mean_lph": _round(mean),
                        "threshold_lph": _round(self.threshold_lph_),
                        "usual_peak_lph": _round(self.usual_peak_lph_),
                    },
                )
            )
        return found


def _reading_runs(
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


class BackflowDetector(BaseEstimator):  # type: ignore[misc]
    """Water running backwards: negative flow, the register going back, or the device's alarm.

    Args:
        min_reverse_lph: reported flow below minus this counts as reverse.
        min_reverse_l: a register step back of this many litres counts as reverse.
        max_reverse_l: larger steps back are a register wrap or a meter swap, not backflow.
        critical_l: reverse volume from which the backflow is critical (contamination risk).
    """

    def __init__(
        self,
        min_reverse_lph: float = 1.0,
        min_reverse_l: int = 1,
        max_reverse_l: int = 100_000,
        critical_l: int = 100,
    ) -> None:
        self.min_reverse_lph = min_reverse_lph
        self.min_reverse_l = min_reverse_l
        self.max_reverse_l = max_reverse_l
        self.critical_l = critical_l

    def fit(self, readings: ReadingSeries) -> Self:
        """Nothing to learn: the rule is physical. Kept for a uniform contract."""
        self.n_readings_fit_ = len(readings.time)
        return self

    def detect(self, readings: ReadingSeries) -> list[Detection]:
        reverse = reverse_volume_l(readings.index_l, self.max_reverse_l)
        flow = np.nan_to_num(readings.flow_lph, nan=0.0)
        flagged = (
            (flow <= -self.min_reverse_lph)
            | (reverse >= self.min_reverse_l)
            | ((readings.alarms & Alarm.BACKFLOW) != 0)
        )
        found = []
        for start, stop, started, ended, last in _reading_runs(flagged, readings):
            volume = int(reverse[start:stop].sum())
            lowest = float(flow[start:stop].min())
            found.append(
                Detection(
                    kind=IncidentKind.BACKFLOW,
                    severity=Severity.CRITICAL if volume >= self.critical_l else Severity.WARNING,
                    started_at=started,
                    ended_at=ended,
                    last_seen_at=last,
                    from_window_start=start == 0,
                    evidence={
                        "summary": (
                            f"register went back {volume} L over {stop - start} readings; "
                            f"lowest flow {_round(lowest)} L/h"
                        ),
                        "reverse_l": volume,
                        "readings": stop - start,
                        "lowest_flow_lph": _round(lowest),
                        "device_alarm": bool((readings.alarms[start:stop] & Alarm.BACKFLOW).any()),
                    },
                )
            )
        return found


ALARM_KINDS: dict[Alarm, tuple[IncidentKind, Severity]] = {
    Alarm.TAMPER: (IncidentKind.TAMPER, Severity.CRITICAL),
    Alarm.DRY: (IncidentKind.DRY, Severity.WARNING),
    Alarm.LOW_BATTERY: (IncidentKind.LOW_BATTERY, Severity.INFO),
}


class DeviceAlarmDetector(BaseEstimator):  # type: ignore[misc]
    """A device alarm bit (tamper, dry pipe, low battery) raised on consecutive readings.

    Args:
        alarm: the ``ingest.payload.Alarm`` bit to follow (one of ``ALARM_KINDS``).
        min_readings: consecutive readings carrying the bit before it counts (1: trust the
            device; raise it for chatty sensors).
    """

    def __init__(self, alarm: int = Alarm.TAMPER, min_readings: int = 1) -> None:
        self.alarm = alarm
        self.min_readings = min_readings

    def fit(self, readings: ReadingSeries) -> Self:  # noqa: ARG002 (uniform contract)
        """Nothing to learn: the device decided. Kept for a uniform contract."""
        self.kind_, self.severity_ = ALARM_KINDS[Alarm(self.alarm)]
        return self

    def detect(self, readings: ReadingSeries) -> list[Detection]:
        flagged = (readings.alarms & int(self.alarm)) != 0
        return [
            Detection(
                kind=self.kind_,
                severity=self.severity_,
                started_at=started,
                ended_at=ended,
                last_seen_at=last,
                from_window_start=start == 0,
                evidence={
                    "summary": f"device reported {self.kind_.value} on {stop - start} readings",
                    "readings": stop - start,
                    "index_l": int(readings.index_l[start]),
                },
            )
            for start, stop, started, ended, last in _reading_runs(flagged, readings)
            if stop - start >= self.min_readings
        ]


class StuckMeterDetector(BaseEstimator):  # type: ignore[misc]
    """Index frozen for days at a meter that still reports, in an occupied dwelling that used to
    consume.

    A vacant dwelling never fires; a holiday shorter than ``min_frozen_days`` does not either.

    Args:
        min_frozen_days: consecutive zero-volume days.
        min_usual_daily_l: the meter's usual day must be at least this (it "used to consume").
        min_coverage_h: hours of data a day needs to count (a silent meter is not stuck).
        known_usual_daily_l: the usual day recorded when the meter's live stuck incident opened;
            the learned one never falls below it, so weeks frozen do not become the norm.
    """

    def __init__(
        self,
        min_frozen_days: int = 12,
        min_usual_daily_l: float = 50.0,
        min_coverage_h: int = 20,
        known_usual_daily_l: float | None = None,
    ) -> None:
        self.min_frozen_days = min_frozen_days
        self.min_usual_daily_l = min_usual_daily_l
        self.min_coverage_h = min_coverage_h
        self.known_usual_daily_l = known_usual_daily_l

    def fit(self, history: HourlySeries) -> Self:
        totals = daily_features(history).total_l
        totals = totals[~np.isnan(totals)]
        learned = float(np.median(totals)) if len(totals) else 0.0
        self.usual_daily_l_ = (
            learned if self.known_usual_daily_l is None else max(learned, self.known_usual_daily_l)
        )
        return self

    def detect(self, series: HourlySeries, *, occupied: bool) -> list[Detection]:
        if not occupied or self.usual_daily_l_ < self.min_usual_daily_l:
            return []
        days = daily_features(series)
        evaluable = (days.hours_covered >= self.min_coverage_h) & ~np.isnan(days.total_l)
        if not evaluable.any():
            return []
        n = int(np.flatnonzero(evaluable)[-1]) + 1
        first = int(np.flatnonzero(evaluable)[0])
        frozen = evaluable[:n] & (days.total_l[:n] == 0)
        return [
            Detection(
                kind=IncidentKind.STUCK,
                severity=Severity.WARNING,
                started_at=to_datetime(days.first_hour[start]),
                ended_at=None if stop == n else to_datetime(days.first_hour[stop]),
                last_seen_at=to_datetime(days.first_hour[stop - 1]),
                from_window_start=start <= first,
                evidence={
                    "summary": (
                        f"index frozen for {stop - start} days while the meter reports; dwelling "
                        f"occupied, usual {round(self.usual_daily_l_)} L/day"
                    ),
                    "frozen_days": stop - start,
                    "usual_daily_l": round(self.usual_daily_l_),
                    "first_day": str(days.day[start]),
                },
            )
            for start, stop in runs(frozen)
            if stop - start >= self.min_frozen_days
        ]


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
        silence = (now64 - last_time.astype("datetime64[s]")).astype(np.int64)
        allowed = self.allowed_s(interval_s)
        found = []
        for i in np.flatnonzero(silence > allowed):
            seconds = int(silence[i])
            found.append(
                (
                    int(i),
                    Detection(
                        kind=IncidentKind.SILENT,
                        severity=Severity.CRITICAL
                        if seconds >= self.critical_s
                        else Severity.WARNING,
                        started_at=to_datetime(
                            last_time[i] + np.timedelta64(int(interval_s[i]), "s")
                        ),
                        ended_at=None,
                        last_seen_at=now,
                        evidence={
                            "summary": (
                                f"no data for {round(seconds / 3600, 1)} h; reporting interval "
                                f"{int(interval_s[i])} s, silent after {int(allowed[i])} s"
                            ),
                            "last_data_at": to_datetime(last_time[i]).isoformat(),
                            "reporting_interval_s": int(interval_s[i]),
                            "allowed_s": int(allowed[i]),
                        },
                    ),
                )
            )
        return found


class AbnormalConsumptionDetector(BaseEstimator):  # type: ignore[misc]
    """Days far from the dwelling's own history and from similar dwellings (isolation forest).

    Fitted on daily features (``features.consumption_features``) of peers of one dwelling type;
    a day is abnormal when the forest isolates it *and* it is well above the meter's own usual
    day, so that low days (holidays, vacancy) and modest swings never fire.

    Args:
        n_estimators, contamination, random_state: passed to ``IsolationForest``.
        min_ratio: the day must be at least this times the meter's usual day.
        min_excess_l: and at least this many litres above it.
        min_days: consecutive abnormal days (one heavy day, guests or laundry, is not a trend).
    """

    def __init__(
        self,
        n_estimators: int = 100,
        contamination: float = 0.02,
        random_state: int = 0,
        min_ratio: float = 2.5,
        min_excess_l: float = 150.0,
        min_days: int = 2,
    ) -> None:
        self.n_estimators = n_estimators
        self.contamination = contamination
        self.random_state = random_state
        self.min_ratio = min_ratio
        self.min_excess_l = min_excess_l
        self.min_days = min_days

    def fit(self, X: FloatArray, y: None = None) -> Self:  # noqa: ARG002 (scikit-learn's signature)
        self.forest_ = IsolationForest(
            n_estimators=self.n_estimators,
            contamination=self.contamination,
            random_state=self.random_state,
        ).fit(X)
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X: FloatArray) -> IntArray:
        """-1 for days the forest isolates, 1 otherwise (scikit-learn's outlier convention)."""
        predicted: IntArray = self.forest_.predict(X)
        return predicted

    def score_samples(self, X: FloatArray) -> FloatArray:
        scores: FloatArray = self.forest_.score_samples(X)
        return scores

    def detect(
        self,
        day: TimeArray,
        daily_l: FloatArray,
        X: FloatArray,
        *,
        usual_l: float,
        isolated: BoolArray | None = None,
    ) -> list[Detection]:
        """Runs of abnormal days; ``X`` holds the features of ``daily_l`` row for row.

        ``isolated`` (``predict(X) == -1``) may be given when the caller predicted many meters'
        days at once: the forest's per-call overhead is far larger than its per-row cost.
        """
        known = ~np.isnan(daily_l)
        abnormal = np.zeros(len(day), dtype=bool)
        if known.any():
            outlier = (self.predict(X[known]) == -1) if isolated is None else isolated[known]
            abnormal[known] = (
                outlier
                & (daily_l[known] >= self.min_ratio * usual_l)
                & (daily_l[known] - usual_l >= self.min_excess_l)
            )
        n = int(np.flatnonzero(known)[-1]) + 1 if known.any() else 0
        first = int(np.flatnonzero(known)[0]) if known.any() else 0
        found = []
        for start, stop in runs(abnormal[:n]):
            if stop - start < self.min_days:
                continue
            volumes = daily_l[start:stop]
            peak = float(volumes.max())
            found.append(
                Detection(
                    kind=IncidentKind.ABNORMAL,
                    severity=Severity.WARNING,
                    started_at=_day_start(day[start]),
                    ended_at=None if stop == n else _day_start(day[stop]),
                    last_seen_at=_day_start(day[stop - 1]),
                    from_window_start=start <= first,
                    evidence={
                        "summary": (
                            f"{int(volumes.sum())} L over {stop - start} days (peak {int(peak)} "
                            f"L/day, {_round(peak / max(usual_l, 1.0))}x its usual "
                            f"{round(usual_l)} L/day); unusual among similar dwellings"
                        ),
                        "days": stop - start,
                        "daily_l": [int(v) for v in volumes],
                        "usual_daily_l": round(usual_l),
                        "first_day": str(day[start]),
                    },
                )
            )
        return found


def _day_start(day: np.datetime64) -> datetime:
    """Midnight UTC of a calendar day: daily rollups carry local dates, not instants."""
    return to_datetime(day.astype("datetime64[s]"))
