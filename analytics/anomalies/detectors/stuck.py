"""Stuck meter: an index frozen for days where water is usually used, and nobody said they
were away: a field task for the round, not a customer alert."""

from __future__ import annotations

from typing import Self

import numpy as np
from sklearn.base import BaseEstimator

from analytics.anomalies.detectors.detection import Detection, to_datetime
from analytics.anomalies.features import HourlySeries, daily_features, runs
from analytics.arrays import TimeArray
from analytics.incidents.models import IncidentKind, Severity


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

    def detect(
        self, series: HourlySeries, *, occupied: bool, away_days: TimeArray | None = None
    ) -> list[Detection]:
        """Runs of frozen days; days of a declared absence (``away_days``) are never frozen:
        nobody home is the answer there, not a fault."""
        if not occupied or self.usual_daily_l_ < self.min_usual_daily_l:
            return []
        days = daily_features(series)
        evaluable = (days.hours_covered >= self.min_coverage_h) & ~np.isnan(days.total_l)
        if not evaluable.any():
            return []
        n = int(np.flatnonzero(evaluable)[-1]) + 1
        first = int(np.flatnonzero(evaluable)[0])
        frozen = evaluable[:n] & (days.total_l[:n] == 0)
        if away_days is not None and len(away_days):
            frozen &= ~np.isin(days.day[:n], away_days)
        return [
            Detection(
                kind=IncidentKind.STUCK,
                # A frozen register and an empty home look the same in the data: a field task
                # (a technician checks the register), never a customer alert (those need
                # warning or critical).
                severity=Severity.INFO,
                started_at=to_datetime(days.first_hour[start]),
                ended_at=None if stop == n else to_datetime(days.first_hour[stop]),
                last_seen_at=to_datetime(days.first_hour[stop - 1]),
                from_window_start=start <= first,
                evidence={
                    "summary": (
                        f"zero consumption for {stop - start} days while the meter reports, no "
                        f"absence declared (usual {round(self.usual_daily_l_)} L/day): possible "
                        "stuck register, check it on the round"
                    ),
                    "frozen_days": stop - start,
                    "usual_daily_l": round(self.usual_daily_l_),
                    "first_day": str(days.day[start]),
                },
            )
            for start, stop in runs(frozen)
            if stop - start >= self.min_frozen_days
        ]
