"""Backflow: water running backwards through the meter."""

from __future__ import annotations

from typing import Self

import numpy as np
from sklearn.base import BaseEstimator

from analytics.anomalies.detectors.detection import Detection, reading_runs, rounded
from analytics.anomalies.features import ReadingSeries, reverse_volume_l
from analytics.incidents.models import IncidentKind, Severity
from wire.alarms import Alarm


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
        for start, stop, started, ended, last in reading_runs(flagged, readings):
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
                            f"lowest flow {rounded(lowest)} L/h"
                        ),
                        "reverse_l": volume,
                        "readings": stop - start,
                        "lowest_flow_lph": rounded(lowest),
                        "device_alarm": bool((readings.alarms[start:stop] & Alarm.BACKFLOW).any()),
                    },
                )
            )
        return found
