"""Burst: sustained high flow for hours."""

from __future__ import annotations

from typing import Self

import numpy as np
from sklearn.base import BaseEstimator

from analytics.anomalies.detectors.detection import Detection, rounded, to_datetime
from analytics.anomalies.features import HourlySeries, runs
from analytics.incidents.models import IncidentKind, Severity


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
                            f"{int(volumes.sum())} L in {stop - start} h (mean {rounded(mean)} "
                            f"L/h); threshold {rounded(self.threshold_lph_)} L/h, usual peak "
                            f"{rounded(self.usual_peak_lph_)} L/h"
                        ),
                        "hours": stop - start,
                        "volume_l": int(volumes.sum()),
                        "mean_lph": rounded(mean),
                        "threshold_lph": rounded(self.threshold_lph_),
                        "usual_peak_lph": rounded(self.usual_peak_lph_),
                    },
                )
            )
        return found
