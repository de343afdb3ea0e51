"""Abnormal consumption in a scan window: dwellings far from their own usual day and from
similar dwellings (an isolation forest per dwelling type, fitted on peers' days)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, time
from zoneinfo import ZoneInfo

import numpy as np

from analytics.anomalies.detectors.abnormal import AbnormalConsumptionDetector
from analytics.anomalies.detectors.detection import Detection
from analytics.anomalies.features import consumption_features, present_days
from analytics.anomalies.repository import DailyVolume, MeterContext, ScanRepository
from analytics.anomalies.windows import Window
from analytics.arrays import FloatArray
from analytics.incidents.repository import FindingRow
from analytics.occupancy.service import Away
from core.config_analytics import AnalyticsSettings

# Fewer peer days than this and "unusual among similar dwellings" means nothing.
MIN_PEER_DAYS = 100


def finding_row(meter_id: int, detection: Detection) -> FindingRow:
    return FindingRow(
        meter_id=meter_id,
        kind=detection.kind.value,
        severity=detection.severity.value,
        started_at=detection.started_at,
        ended_at=detection.ended_at,
        last_seen_at=detection.last_seen_at,
        evidence=detection.evidence,
        from_window_start=detection.from_window_start,
    )


def _daily_by_meter(rows: Sequence[DailyVolume]) -> dict[int, list[DailyVolume]]:
    by_meter: dict[int, list[DailyVolume]] = defaultdict(list)
    for row in rows:
        by_meter[row.meter_id].append(row)
    return by_meter


def _volumes(rows: Sequence[DailyVolume]) -> FloatArray:
    return np.array([r.volume_l for r in rows], dtype=float)


def _usual_day(volumes: FloatArray, absent_day_l: float) -> float:
    """Median of the days someone was home (0 when nobody ever was)."""
    present = present_days(volumes, absent_day_l)
    return float(np.median(present)) if len(present) else 0.0


def abnormal_findings(
    repo: ScanRepository,
    contexts: Sequence[MeterContext],
    away: dict[int, Away],
    window: Window,
    options: AnalyticsSettings,
) -> tuple[list[FindingRow], list[int]]:
    """Per dwelling type: fit an isolation forest on peers' days, judge the scanned meters' own
    days of the window against it and against their own usual day (learned without their
    ``away`` days). Returns the findings and the meters judged."""
    until = window.end.date()
    since = window.history_start.date()
    recent_from = window.start.date()
    by_type: dict[str, list[MeterContext]] = defaultdict(list)
    timezones = {c.meter_id: c.timezone for c in contexts}
    for context in contexts:
        if context.dwelling_type is not None and context.occupied:
            by_type[context.dwelling_type].append(context)
    found: list[FindingRow] = []
    judged: list[int] = []
    for dwelling_type, members in by_type.items():
        peers = _daily_by_meter(
            repo.peer_daily_volumes(
                dwelling_type, since=since, until=until, max_meters=options.peer_meters
            )
        )
        peer_rows = [
            consumption_features(
                _volumes(rows),
                float(rows[0].occupants or 1),
                _usual_day(_volumes(rows), options.absent_day_l),
            )
            for rows in peers.values()
        ]
        if sum(len(r) for r in peer_rows) < MIN_PEER_DAYS:
            continue
        detector = AbnormalConsumptionDetector().fit(np.vstack(peer_rows))
        daily = _daily_by_meter(
            repo.daily_volumes([m.meter_id for m in members], since=since, until=until)
        )
        cases = []
        for meter_id, rows in daily.items():
            skip = set(away.get(meter_id, Away()).any.tolist())
            history = present_days(
                _volumes([r for r in rows if r.day < recent_from and r.day not in skip]),
                options.absent_day_l,
            )
            recent = [r for r in rows if r.day >= recent_from]
            if len(history) < 7 or not recent:
                continue
            usual = float(np.median(history))
            volumes = _volumes(recent)
            features = consumption_features(volumes, float(recent[0].occupants or 1), usual)
            cases.append((meter_id, recent, volumes, features, usual))
        if not cases:
            continue
        # One forest call for all the type's meters, split back per meter.
        isolated = detector.predict(np.vstack([case[3] for case in cases])) == -1
        bounds = np.cumsum([0, *(len(case[2]) for case in cases)])
        for (meter_id, recent, volumes, features, usual), lo, hi in zip(
            cases, bounds[:-1], bounds[1:], strict=True
        ):
            judged.append(meter_id)
            days = np.array([r.day for r in recent], dtype="datetime64[D]")
            tz = ZoneInfo(timezones[meter_id])
            found.extend(
                finding_row(meter_id, _on_local_days(d, tz))
                for d in detector.detect(
                    days, volumes, features, usual_l=usual, isolated=isolated[lo:hi]
                )
            )
    return found, judged


def _on_local_days(detection: Detection, tz: ZoneInfo) -> Detection:
    """Move a day-based detection's instants (midnight UTC of local dates) to local midnight."""

    def local(instant: datetime) -> datetime:
        return datetime.combine(instant.date(), time(), tz)

    return replace(
        detection,
        started_at=local(detection.started_at),
        ended_at=None if detection.ended_at is None else local(detection.ended_at),
        last_seen_at=local(detection.last_seen_at),
    )
