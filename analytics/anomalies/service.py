"""The anomaly scan: judge, per detector, the event time since its watermark up to ``as_of``,
and open, update or resolve incidents, a partition of the meters at a time.

A daily scan, a scan every third day and one scan after a 90-day backfill find the same
incidents: each detector slides its window over the whole span it has not judged yet
(``windows``), and silence is read from the reading history, not only at the scan's instant.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import astuple, dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import psycopg

from analytics.anomalies.abnormal_scan import abnormal_findings, finding_row
from analytics.anomalies.batch import Batch, instants, read_batch
from analytics.anomalies.detectors.backflow import BackflowDetector
from analytics.anomalies.detectors.burst import BurstDetector
from analytics.anomalies.detectors.device_alarm import ALARM_KINDS, DeviceAlarmDetector
from analytics.anomalies.detectors.leak import LeakDetector
from analytics.anomalies.detectors.silent import SilentMeterDetector
from analytics.anomalies.detectors.stuck import StuckMeterDetector
from analytics.anomalies.exceptions import UnknownPartition
from analytics.anomalies.features import (
    HourlySeries,
    without_absent_days,
)
from analytics.anomalies.repository import (
    WHOLE,
    Partition,
    ReportingState,
    ScanRepository,
)
from analytics.anomalies.windows import Window, merge_findings, plan_windows, settle
from analytics.incidents.models import IncidentKind
from analytics.incidents.repository import (
    FindingRow,
    IncidentBatchRepository,
    Scope,
    UpsertCounts,
)
from analytics.occupancy.service import Away
from core.config_analytics import AnalyticsSettings

logger = logging.getLogger(__name__)

# Each keeps its own watermark per partition: a detector added later starts from its catch-up.
HOURLY, READINGS, SILENT, ABNORMAL = DETECTORS = ("hourly", "readings", "silent", "abnormal")
METER_KINDS = [
    IncidentKind.LEAK,
    IncidentKind.BURST,
    IncidentKind.STUCK,
    IncidentKind.BACKFLOW,
    *(kind for kind, _ in ALARM_KINDS.values()),
]


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
    as_of: datetime,
    default_country: str,
    partition: int | None = None,
    meter_ids: Sequence[int] | None = None,
    since: datetime | None = None,
    options: AnalyticsSettings | None = None,
) -> ScanReport:
    """Judge what happened since each detector's watermark, up to ``as_of``, and bring incidents
    up to date; safe to re-run, and to kill at any point (it adds nothing).

    Each batch of meters runs in a short transaction of its own under its partition's lock
    (``conn.transaction()``: a savepoint when the caller holds a transaction), and the
    partition's watermarks move in its last one: a scan killed half-way leaves them where they
    were, and the next one judges the same span again, continuing the incidents written.

    Args:
        as_of: the scan's clock: nothing after it is judged (the data may be there already, in
            a replay or a backfill), and silence is judged against it.
        default_country: the deployment's; its time zone is the local time of meters without
            a dwelling (their nights and days).
        partition: judge only this partition of the meters (id hash modulo
            ``options.partitions``: a scan job's); None: each partition in turn.
        meter_ids: judge exactly these meters (under every partition's lock) and leave the
            watermarks alone.
        since: judge from this instant instead of from the watermarks.
        options: windows, partitions and batch sizes (``Settings.analytics``).

    Raises:
        UnknownMeters: ``meter_ids`` names a meter that does not exist.
        UnknownPartition: ``partition`` is not below ``options.partitions``.
    """
    options = options or AnalyticsSettings()
    every = [Partition(p, options.partitions) for p in range(options.partitions)]
    if partition is not None and not 0 <= partition < options.partitions:
        raise UnknownPartition(partition, options.partitions)
    if meter_ids is not None:
        return _scan(conn, Job(as_of, every, None, meter_ids, since), default_country, options)
    reports = [
        _scan(conn, Job(as_of, [part], part, None, since), default_country, options)
        for part in (every if partition is None else [every[partition]])
    ]
    return ScanReport(*(sum(column) for column in zip(*(astuple(r) for r in reports), strict=True)))


@dataclass(frozen=True)
class Job:
    """One scan's span and meters: ``locks`` held in each of its transactions; ``partition``
    whose meters and watermarks it takes (None: exactly ``meter_ids``)."""

    as_of: datetime
    locks: list[Partition]
    partition: Partition | None
    meter_ids: Sequence[int] | None
    since: datetime | None


def _scan(
    conn: psycopg.Connection[Any], job: Job, default_country: str, options: AnalyticsSettings
) -> ScanReport:
    repo = ScanRepository(conn)
    incidents = IncidentBatchRepository(conn)
    as_of = job.as_of
    floor = as_of - timedelta(days=options.catch_up_days)

    def lock() -> None:
        for part in job.locks:
            repo.lock_partition(part)

    with conn.transaction():
        lock()
        stored = repo.watermarks(job.partition or WHOLE)
        marks = {d: max(floor, job.since or stored.get(d, floor)) for d in DETECTORS}
        overlap = timedelta(seconds=options.watermark_overlap_s)
        if job.partition is None:
            targets = list(job.meter_ids or [])
        elif job.since is None and not stored:
            targets = repo.active_meters(job.partition)
        else:
            targets = repo.touched_meters(min(marks.values()) - overlap, job.partition)
    detect, history = timedelta(days=options.detect_days), timedelta(days=options.history_days)
    step = timedelta(days=options.catch_up_step_days)
    hourly = plan_windows(
        watermark=marks[HOURLY], as_of=as_of, detect=detect, history=history, max_step=step
    )
    daily = plan_windows(
        watermark=marks[ABNORMAL], as_of=as_of, detect=detect, history=history, max_step=step
    )
    totals = [0, 0, 0, 0]
    for chunk in _chunks(targets, options.batch_meters):
        with conn.transaction():
            lock()
            repo.tune(work_mem=options.work_mem)
            batch = read_batch(
                repo,
                incidents,
                chunk,
                hourly_since=hourly[0].history_start,
                readings_since=marks[READINGS] - timedelta(days=options.reading_days),
                until=as_of,
                default_country=default_country,
                options=options,
            )
            findings = _hourly_findings(batch, hourly, as_of=as_of, options=options)
            findings += _reading_findings(batch)
            findings += _closed_silences(repo, chunk, since=marks[SILENT], as_of=as_of)
            judged: set[int] = set()
            for window in daily:
                abnormal, meters = abnormal_findings(
                    repo, batch.contexts, batch.away, window, options
                )
                findings += settle(abnormal, window, as_of=as_of)
                judged.update(meters)
            merged = merge_findings(findings)
            counts = incidents.apply_findings(
                merged,
                [
                    Scope(meter_ids=chunk, kinds=[k.value for k in METER_KINDS]),
                    # Only where there were peers and history to judge: "could not tell" is
                    # not "over".
                    Scope(meter_ids=sorted(judged), kinds=[IncidentKind.ABNORMAL.value]),
                ],
                now=as_of,
            )
        totals = _add(totals, len(merged), counts)
    with conn.transaction():
        lock()
        states = repo.reporting_states(job.meter_ids, now=as_of, partition=job.partition or WHOLE)
        silent = _open_silences(states, as_of=as_of)
        counts = incidents.apply_findings(
            silent,
            [Scope(meter_ids=[s.meter_id for s in states], kinds=[IncidentKind.SILENT.value])],
            now=as_of,
        )
        if job.partition is not None:
            repo.set_watermarks(job.partition, dict.fromkeys(DETECTORS, as_of))
    report = ScanReport(len(targets), *_add(totals, len(silent), counts))
    logger.info(
        "analytics scan %s as of %s: %d meters, %d findings, %d opened, %d updated, %d resolved",
        "meters" if job.partition is None else job.partition.label,
        as_of.isoformat(),
        report.meters,
        report.findings,
        report.opened,
        report.updated,
        report.resolved,
    )
    return report


def _add(totals: list[int], findings: int, counts: UpsertCounts) -> list[int]:
    """(findings, opened, updated, resolved) so far."""
    found, opened, updated, resolved = totals
    return [
        found + findings,
        opened + counts.opened,
        updated + counts.updated,
        resolved + counts.resolved,
    ]


def _open_silences(states: Sequence[ReportingState], *, as_of: datetime) -> list[FindingRow]:
    """Meters silent at ``as_of``, judged fleet-wide (vectorised)."""
    intervals = np.array([s.reporting_interval_s for s in states], dtype=np.int64)
    detector = SilentMeterDetector().fit(intervals)
    return [
        finding_row(states[position].meter_id, detection)
        for position, detection in detector.detect(
            instants([s.last_heard_at for s in states]), intervals, now=as_of
        )
    ]


def _closed_silences(
    repo: ScanRepository, meter_ids: Sequence[int], *, since: datetime, as_of: datetime
) -> list[FindingRow]:
    """Silences that ended after ``since``, from the reading history."""
    detector = SilentMeterDetector()
    gaps = repo.silences(meter_ids, since=since, until=as_of, min_gap_s=detector.min_silence_s)
    intervals = np.array([g.reporting_interval_s for g in gaps], dtype=np.int64)
    return [
        finding_row(gaps[position].meter_id, detection)
        for position, detection in detector.fit(intervals).detect_gaps(
            instants([g.last_time for g in gaps]), instants([g.next_time for g in gaps]), intervals
        )
    ]


def _chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _hourly_findings(
    batch: Batch, windows: Sequence[Window], *, as_of: datetime, options: AnalyticsSettings
) -> list[FindingRow]:
    """Leak, burst and stuck from hourly volumes, window by window (``windows[0]`` starts the
    batch's hourly series)."""
    origin = _hour(windows[0].history_start)

    def at(instant: datetime) -> int:
        return int((_hour(instant) - origin).total_seconds()) // 3600

    leaks, stucks = batch.leaks, batch.stucks
    found: list[FindingRow] = []
    for context in batch.contexts:
        series = batch.hourly.get(context.meter_id)
        if series is None:
            continue
        away = batch.away.get(context.meter_id, Away())
        for window in windows:
            history = _slice(series, at(window.history_start), at(window.start))
            recent = _slice(series, at(window.start), at(window.end))
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
            rows = [finding_row(context.meter_id, d) for d in detections]
            found.extend(settle(rows, window, as_of=as_of))
    return found


def _reading_findings(batch: Batch) -> list[FindingRow]:
    """Backflow and device alarms from the raw readings (rules without a baseline)."""
    found: list[FindingRow] = []
    for meter_id, readings in batch.readings.items():
        detections = BackflowDetector().fit(readings).detect(readings)
        for alarm in ALARM_KINDS:
            detections += DeviceAlarmDetector(alarm=alarm).fit(readings).detect(readings)
        found.extend(finding_row(meter_id, d) for d in detections)
    return found


def _hour(instant: datetime) -> datetime:
    return instant.replace(minute=0, second=0, microsecond=0)


def _slice(series: HourlySeries, start: int, stop: int | None) -> HourlySeries:
    part = slice(start, stop)
    return HourlySeries(
        hour_start=series.hour_start[part],
        volume_l=series.volume_l[part],
        local_day=series.local_day[part],
        local_hour=series.local_hour[part],
    )
