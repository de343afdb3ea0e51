"""The incremental anomaly scan: read what new data touched, detect, upsert incidents.

``scan`` never commits: the caller (CLI, a scheduled job) owns the transaction, so a failed scan
leaves neither half-written incidents nor a moved watermark.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import psycopg

from analytics.anomalies.batch import Batch, instants, read_batch
from analytics.anomalies.detectors.abnormal import AbnormalConsumptionDetector
from analytics.anomalies.detectors.backflow import BackflowDetector
from analytics.anomalies.detectors.burst import BurstDetector
from analytics.anomalies.detectors.detection import Detection
from analytics.anomalies.detectors.device_alarm import ALARM_KINDS, DeviceAlarmDetector
from analytics.anomalies.detectors.leak import LeakDetector
from analytics.anomalies.detectors.silent import SilentMeterDetector
from analytics.anomalies.detectors.stuck import StuckMeterDetector
from analytics.anomalies.features import (
    HourlySeries,
    consumption_features,
    present_days,
    without_absent_days,
)
from analytics.anomalies.repository import (
    DailyVolume,
    MeterContext,
    ScanRepository,
)
from analytics.arrays import FloatArray
from analytics.incidents.models import IncidentKind
from analytics.incidents.repository import FindingRow, IncidentBatchRepository, Scope
from analytics.occupancy.service import Away
from core.config_analytics import AnalyticsSettings

logger = logging.getLogger(__name__)

SCAN_NAME = "incidents"
METER_KINDS = [
    IncidentKind.LEAK,
    IncidentKind.BURST,
    IncidentKind.STUCK,
    IncidentKind.BACKFLOW,
    *(kind for kind, _ in ALARM_KINDS.values()),
]
# Fewer peer days than this and "unusual among similar dwellings" means nothing.
MIN_PEER_DAYS = 100


@dataclass(frozen=True)
class ScanReport:
    meters: int
    findings: int
    opened: int
    updated: int
    resolved: int


def scan(
    conn: psycopg.Connection[Any],
    *,
    now: datetime,
    default_country: str,
    meter_ids: Sequence[int] | None = None,
    since: datetime | None = None,
    options: AnalyticsSettings | None = None,
) -> ScanReport:
    """Detect anomalies and bring incidents up to date; safe to re-run (it adds nothing).

    Args:
        now: the scan's clock (windows end here; silent meters are judged against it).
        default_country: the deployment's; its time zone is the local time of meters without
            a dwelling (their nights and days).
        meter_ids: scan exactly these meters and leave the watermark alone.
        since: scan meters touched after this instant instead of after the watermark.
        options: windows and batch sizes (``Settings.analytics``).

    Raises:
        UnknownMeters: ``meter_ids`` names a meter that does not exist.
    """
    options = options or AnalyticsSettings()
    repo = ScanRepository(conn)
    incidents = IncidentBatchRepository(conn)
    repo.lock_scan(SCAN_NAME)
    repo.tune(work_mem=options.work_mem)
    incremental = meter_ids is None
    last_scan = since
    if meter_ids is None:
        start = since or repo.watermark(SCAN_NAME)
        last_scan = start
        overlap = timedelta(seconds=options.watermark_overlap_s)
        targets = repo.touched_meters(start - overlap) if start else repo.active_meters()
    else:
        targets = list(meter_ids)
    findings: list[FindingRow] = []
    contexts: list[MeterContext] = []
    away: dict[int, Away] = {}
    # Pipelined: the next batch's reads run in a thread (waiting on the database, without the
    # GIL) while this one's detectors run; the two never use the connection at the same time.
    batches = list(_chunks(targets, options.batch_meters))
    read = partial(
        read_batch,
        repo,
        incidents,
        now=now,
        default_country=default_country,
        options=options,
        last_scan=last_scan,
    )
    with ThreadPoolExecutor(max_workers=1) as reader:
        pending = reader.submit(read, batches[0]) if batches else None
        for position in range(len(batches)):
            assert pending is not None
            batch = pending.result()
            pending = (
                reader.submit(read, batches[position + 1]) if position + 1 < len(batches) else None
            )
            contexts.extend(batch.contexts)
            away.update(batch.away)
            findings.extend(_telemetry_findings(batch, options=options))
    abnormal, judged = _abnormal_findings(repo, contexts, away, now=now, options=options)
    findings.extend(abnormal)
    states = repo.reporting_states(None if incremental else targets, now=now)
    silent = SilentMeterDetector().fit(np.array([s.reporting_interval_s for s in states]))
    for position, detection in silent.detect(
        instants([s.last_heard_at for s in states]),
        np.array([s.reporting_interval_s for s in states], dtype=np.int64),
        now=now,
    ):
        findings.append(_row(states[position].meter_id, detection))
    scopes = [
        Scope(meter_ids=targets, kinds=[k.value for k in METER_KINDS]),
        # Only where there were peers and history to judge: "could not tell" is not "over".
        Scope(meter_ids=judged, kinds=[IncidentKind.ABNORMAL.value]),
        Scope(meter_ids=[s.meter_id for s in states], kinds=[IncidentKind.SILENT.value]),
    ]
    counts = incidents.apply_findings(findings, scopes, now=now)
    if incremental:
        repo.set_watermark(SCAN_NAME, now)
    report = ScanReport(
        meters=len(targets),
        findings=len(findings),
        opened=counts.opened,
        updated=counts.updated,
        resolved=counts.resolved,
    )
    logger.info(
        "analytics scan: %d meters, %d findings, %d opened, %d updated, %d resolved",
        report.meters,
        report.findings,
        report.opened,
        report.updated,
        report.resolved,
    )
    return report


def _chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _row(meter_id: int, detection: Detection) -> FindingRow:
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


def _telemetry_findings(batch: Batch, *, options: AnalyticsSettings) -> list[FindingRow]:
    """Leak, burst and stuck from hourly volumes; backflow and device alarms from readings."""
    split = options.history_days * 24
    hourly, readings, leaks, stucks = batch.hourly, batch.readings, batch.leaks, batch.stucks
    found: list[FindingRow] = []
    for context in batch.contexts:
        series = hourly.get(context.meter_id)
        if series is not None:
            history, recent = _slice(series, 0, split), _slice(series, split, None)
            away = batch.away.get(context.meter_id, Away())
            present = without_absent_days(history, options.absent_day_l, away.any)
            leak = LeakDetector(
                known_baseline_lph=leaks.get(context.meter_id, {}).get("baseline_lph")
            )
            stuck = StuckMeterDetector(
                known_usual_daily_l=stucks.get(context.meter_id, {}).get("usual_daily_l")
            )
            detections = leak.fit(present).detect(recent)
            detections += BurstDetector().fit(present).detect(recent)
            detections += stuck.fit(present).detect(
                recent, occupied=context.occupied, away_days=away.declared
            )
            found.extend(_row(context.meter_id, d) for d in detections)
        meter_readings = readings.get(context.meter_id)
        if meter_readings is not None:
            detections = BackflowDetector().fit(meter_readings).detect(meter_readings)
            for alarm in ALARM_KINDS:
                detector = DeviceAlarmDetector(alarm=alarm).fit(meter_readings)
                detections += detector.detect(meter_readings)
            found.extend(_row(context.meter_id, d) for d in detections)
    return found


def _slice(series: HourlySeries, start: int, stop: int | None) -> HourlySeries:
    part = slice(start, stop)
    return HourlySeries(
        hour_start=series.hour_start[part],
        volume_l=series.volume_l[part],
        local_day=series.local_day[part],
        local_hour=series.local_hour[part],
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


def _abnormal_findings(
    repo: ScanRepository,
    contexts: Sequence[MeterContext],
    away: dict[int, Away],
    *,
    now: datetime,
    options: AnalyticsSettings,
) -> tuple[list[FindingRow], list[int]]:
    """Per dwelling type: fit an isolation forest on peers' days, judge the scanned meters' own
    recent days against it and against their own usual day (learned without their ``away``
    days). Returns the findings and the meters judged."""
    until = now.date()
    since = until - timedelta(days=options.history_days + options.detect_days)
    recent_from = until - timedelta(days=options.detect_days)
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
                _row(meter_id, _on_local_days(d, tz))
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
