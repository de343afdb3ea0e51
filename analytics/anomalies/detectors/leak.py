"""Leak: water flowing all night, night after night."""

from __future__ import annotations

from typing import Self

import numpy as np
from sklearn.base import BaseEstimator

from analytics.anomalies.detectors.detection import Detection, rounded, to_datetime
from analytics.anomalies.features import NIGHT_HOURS, HourlySeries, daily_features, runs
from analytics.incidents.models import IncidentKind, Severity


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
                            f"minimum night flow {rounded(low)} L/h or more for {stop - start} "
                            f"nights, no zero-flow hour; baseline {rounded(self.baseline_lph_)} L/h"
                        ),
                        "nights": stop - start,
                        "night_min_lph": [rounded(v) for v in nights],
                        "baseline_lph": rounded(self.baseline_lph_),
                        "night_hours": list(NIGHT_HOURS),
                        "first_night": str(days.day[start]),
                    },
                )
            )
        return found
