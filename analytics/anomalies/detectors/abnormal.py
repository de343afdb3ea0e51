"""Abnormal consumption: days unusual for the dwelling and for similar dwellings (learned)."""

from __future__ import annotations

from datetime import datetime
from typing import Self

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.ensemble import IsolationForest

from analytics.anomalies.detectors.detection import Detection, rounded, to_datetime
from analytics.anomalies.features import runs
from analytics.arrays import BoolArray, FloatArray, IntArray, TimeArray
from analytics.incidents.models import IncidentKind, Severity


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
                            f"L/day, {rounded(peak / max(usual_l, 1.0))}x its usual "
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
