"""Device alarms: tamper, dry pipe and low battery, as the meter reports them."""

from __future__ import annotations

from typing import Self

from sklearn.base import BaseEstimator

from analytics.anomalies.detectors.detection import Detection, reading_runs
from analytics.anomalies.features import ReadingSeries
from analytics.incidents.models import IncidentKind, Severity
from wire.alarms import Alarm

ALARM_KINDS: dict[Alarm, tuple[IncidentKind, Severity]] = {
    Alarm.TAMPER: (IncidentKind.TAMPER, Severity.CRITICAL),
    Alarm.DRY: (IncidentKind.DRY, Severity.WARNING),
    Alarm.LOW_BATTERY: (IncidentKind.LOW_BATTERY, Severity.INFO),
}


class DeviceAlarmDetector(BaseEstimator):  # type: ignore[misc]
    """A device alarm bit (tamper, dry pipe, low battery) raised on consecutive readings.

    Args:
        alarm: the ``wire.alarms.Alarm`` bit to follow (one of ``ALARM_KINDS``).
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
            for start, stop, started, ended, last in reading_runs(flagged, readings)
            if stop - start >= self.min_readings
        ]
