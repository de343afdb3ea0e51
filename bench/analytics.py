"""Anomaly detection quality against injected ground truth, and the time of a fleet scan.

Run: ``.venv/bin/python -m bench.analytics`` (starts its own PostgreSQL and Mosquitto).

1. Quality. A fleet with labelled anomalies (``simulators.anomalies.plan_evaluation``: leak,
   burst, backflow, stuck, silent, tamper; vacancy, holiday and one long shower as negatives)
   is published through MQTT to the real ``waterbill ingest`` process: six weeks of history in
   one go, then the evaluation days step by step, each step followed by the rollup refresh, the
   VEE and an incremental scan whose clock is the simulated time, as in production where the
   scan runs every few hours. Detectors never see the labels. An incident matches a label of
   its kind on the same meter when their spans overlap; precision counts incidents, recall
   labels, and the delay is from the label's start to the first scan that had the incident.
2. Scan time. 10,000 meters x 90 days of hourly readings are loaded by binary COPY (not MQTT:
   21.6 M readings would take the publisher most of an hour), with ``meter_state`` and daily
   rollups derived in SQL, then one full scan (all meters, no watermark) is timed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import statistics
import struct
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from pydantic import SecretStr

from analytics.anomalies import service as anomalies
from analytics.rollups.service import refresh_pending
from analytics.vee import service as vee
from bench.ingest import IngestProcess
from core.config import MqttSettings, Settings
from core.config_analytics import AnalyticsSettings, VeeSettings
from core.local_mosquitto import LocalMosquitto
from core.local_services import LocalPostgres
from core.migrate import upgrade
from simulators.anomalies import NEGATIVE_KINDS, Injection, Label, plan_evaluation
from simulators.demand import ANCHOR_DATE, SECONDS_PER_DAY, local_day_start
from simulators.fleet import Fleet, FleetConfig
from simulators.publisher import PublisherJob, StreamPlan, run_stream

logger = logging.getLogger("bench.analytics")

COUNTRY = "PG"  # Port Moresby: UTC+10, no DST, the fleet's default offset
UTC_OFFSET_S = 10 * 3600
ANOMALY_KINDS = ("leak", "burst", "backflow", "stuck", "silent", "tamper")
# How far past a label's end an incident may start and still be about it: rollups spread a
# step over the hours it covers, and a scan sees an upload only when it has arrived.
MATCH_SLACK = timedelta(hours=6)
TARGETS = {"leak": 0.9, "burst": 0.9}
DEFAULT_TARGET = 0.8
SCAN_TARGET_S = 60.0


@dataclass(frozen=True)
class Seen:
    """An incident as the evaluation knows it: first scan that had it, and its span."""

    meter: int
    kind: str
    started_at: datetime
    ended_at: datetime | None
    first_seen: datetime


# --- part 1: quality ---------------------------------------------------------------------


def _register(settings: Settings, fleet: Fleet, installed_day: int, vacant: list[int]) -> None:
    from sqlalchemy.ext.asyncio import AsyncSession

    from core.db import make_async_engine
    from simulators.registration import register_fleet

    async def run() -> None:
        engine = make_async_engine(settings)
        try:
            async with AsyncSession(engine) as session, session.begin():
                await register_fleet(
                    session,
                    fleet=fleet,
                    country_code=COUNTRY,
                    installed_day=installed_day,
                    vacant=vacant,
                )
        finally:
            await engine.dispose()

    asyncio.run(run())


_STORED = """
SELECT (SELECT coalesce(sum(readings_total), 0) FROM meter_state)
     + (SELECT coalesce(sum(CASE WHEN jsonb_typeof(p -> 'readings') = 'array'
                                 THEN jsonb_array_length(p -> 'readings') ELSE 1 END), 0)
        FROM (SELECT convert_from(payload, 'UTF8')::jsonb AS p FROM quarantine) q)
"""


def _wait_ingested(db: psycopg.Connection[Any], target: int, timeout: float = 300) -> None:
    """Until every published reading is stored or quarantined."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = db.execute(_STORED).fetchone()
        if row is not None and row[0] >= target:
            return
        time.sleep(0.05)
    raise RuntimeError(f"ingest did not take {target} readings in {timeout} s")


def _refresh(db: psycopg.Connection[Any]) -> None:
    while True:
        with db.transaction():
            if refresh_pending(db, limit=2000, default_country=COUNTRY).meters == 0:
                return


def _labels_by_meter(labels: list[Label]) -> dict[int, list[Label]]:
    by_meter: dict[int, list[Label]] = defaultdict(list)
    for label in labels:
        by_meter[label.meter].append(label)
    return by_meter


def _matches(incident: Seen, label: Label) -> bool:
    if incident.kind != label.kind or incident.meter != label.meter:
        return False
    label_end = datetime.max.replace(tzinfo=UTC) if label.end is None else label.end + MATCH_SLACK
    incident_end = incident.ended_at or datetime.max.replace(tzinfo=UTC)
    return incident.started_at <= label_end and label.start - MATCH_SLACK <= incident_end


def score(labels: list[Label], incidents: list[Seen]) -> list[str]:
    """The per-kind table (markdown), and lines on negatives and unlabelled findings."""
    by_meter = _labels_by_meter(labels)
    lines = [
        "| kind | labels | incidents | precision | recall | F1 | median delay | target F1 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind in ANOMALY_KINDS:
        kind_labels = [label for label in labels if label.kind == kind]
        found = [i for i in incidents if i.kind == kind]
        true_found = [i for i in found if any(_matches(i, lb) for lb in by_meter[i.meter])]
        delays = []
        hit = 0
        for label in kind_labels:
            seen = [i.first_seen for i in found if _matches(i, label)]
            if seen:
                hit += 1
                delays.append(max((min(seen) - label.start).total_seconds(), 0.0) / 3600)
        precision = len(true_found) / len(found) if found else 1.0
        recall = hit / len(kind_labels) if kind_labels else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        delay = f"{statistics.median(delays):.1f} h" if delays else "-"
        lines.append(
            f"| {kind} | {len(kind_labels)} | {len(found)} | {precision:.2f} | {recall:.2f}"
            f" | {f1:.2f} | {delay} | {TARGETS.get(kind, DEFAULT_TARGET)} |"
        )
    missed = [
        f"{lb.kind} #{lb.meter} ({lb.flow_lph} L/h)" if lb.flow_lph else f"{lb.kind} #{lb.meter}"
        for lb in labels
        if lb.anomalous and not any(_matches(i, lb) for i in incidents if i.meter == lb.meter)
    ]
    false: dict[str, int] = defaultdict(int)
    for i in incidents:
        if i.kind in ANOMALY_KINDS and not any(_matches(i, lb) for lb in by_meter[i.meter]):
            carried = ",".join(sorted({lb.kind for lb in by_meter[i.meter]})) or "normal"
            false[f"{i.kind} on {carried}"] += 1
    lines.append(f"missed labels: {', '.join(missed) or 'none'}")
    lines.append(f"false incidents (kind on what the meter carries): {dict(false) or 'none'}")
    for kind in NEGATIVE_KINDS:
        negatives = [label for label in labels if label.kind == kind]
        flagged = {
            lb.meter
            for lb in negatives
            for i in incidents
            if i.meter == lb.meter and i.kind != "abnormal"
        }
        lines.append(f"negative {kind}: {len(negatives)} meters, {len(flagged)} with an incident")
    labelled = set(by_meter)
    other: dict[str, int] = defaultdict(int)
    for i in incidents:
        if i.kind not in ANOMALY_KINDS and i.meter not in labelled:
            other[i.kind] += 1
    explained = sum(1 for i in incidents if i.kind == "abnormal" and i.meter in labelled)
    lines.append(
        f"abnormal-consumption incidents: {explained} on labelled meters (e.g. a leak's extra"
        f" volume), {other.pop('abnormal', 0)} on unlabelled ones; other kinds on unlabelled"
        f" meters: {dict(other) or 'none'}"
    )
    return lines


def quality(args: argparse.Namespace, pg: LocalPostgres, broker: LocalMosquitto) -> list[str]:
    url = pg.url("waterbill")
    settings = Settings(database_url=SecretStr(url), mqtt=MqttSettings(port=broker.port))
    today = (datetime.now(UTC) + timedelta(seconds=UTC_OFFSET_S)).date()
    last_day = (today - ANCHOR_DATE).days - 1
    eval_first = last_day - args.eval_days - args.tail_days + 1
    first_day = eval_first - args.history_days
    start = local_day_start(first_day, UTC_OFFSET_S)
    eval_start = local_day_start(eval_first, UTC_OFFSET_S)
    eval_end = local_day_start(eval_first + args.eval_days, UTC_OFFSET_S)
    end = local_day_start(last_day + 1, UTC_OFFSET_S)
    injection: Injection = plan_evaluation(
        meters=args.meters,
        per_kind=args.per_kind,
        start=eval_start,
        end=eval_end,
        seed=args.seed,
        utc_offset_s=UTC_OFFSET_S,
    )
    labels = injection.labels
    config = FleetConfig(
        meters=args.meters,
        seed=args.seed,
        interval_s=3600,
        batch=args.batch,
        serial_prefix="EVAL",
        utc_offset_s=UTC_OFFSET_S,
    )
    fleet = Fleet(config, modifiers=injection.modifiers, faults=injection.faults)
    vacant = [label.meter for label in labels if label.kind == "vacancy"]
    _register(settings, fleet, first_day, vacant)
    logger.info(
        "quality: %d meters (%d labelled), %d days from %s, evaluation from %s, step %d h",
        args.meters,
        len(labels),
        last_day - first_day + 1,
        start.date(),
        eval_start.date(),
        args.step_hours,
    )
    workdir = Path(tempfile.mkdtemp(prefix="waterbill-bench-analytics-"))
    worker = IngestProcess(url, broker.port, f"bench-{uuid.uuid4().hex[:6]}", workdir / "log", None)
    try:
        worker.wait_subscribed()
        return _evaluate(url, broker, config, injection, (start, eval_start, end), args)
    finally:
        worker.stop()


def _evaluate(
    url: str,
    broker: LocalMosquitto,
    config: FleetConfig,
    injection: Injection,
    span: tuple[datetime, datetime, datetime],
    args: argparse.Namespace,
) -> list[str]:
    start, eval_start, end = span
    labels = injection.labels
    mqtt = MqttSettings(port=broker.port)
    published = 0
    seen: dict[int, Seen] = {}
    options = AnalyticsSettings()
    timings: dict[str, float] = defaultdict(float)
    with psycopg.connect(url, autocommit=True) as db:
        meter_of: dict[int, str] = dict(db.execute("SELECT id, serial FROM meter").fetchall())
        number_of = {mid: int(serial.split("-")[1]) for mid, serial in meter_of.items()}
        step = timedelta(hours=args.step_hours)
        cuts = [eval_start]
        while cuts[-1] < end:
            cuts.append(min(cuts[-1] + step, end))
        previous = start
        for cut in cuts:
            started = time.perf_counter()
            job = PublisherJob(
                fleet=config,
                plan=StreamPlan(start=previous.timestamp(), end=cut.timestamp()),
                mqtt=mqtt,
                client_id=f"eval-{uuid.uuid4().hex[:6]}",
                injection=injection,
            )
            published += run_stream(job, threading.Event()).readings
            previous = cut
            _wait_ingested(db, published)
            timings["publish + ingest"] += time.perf_counter() - started
            started = time.perf_counter()
            _refresh(db)
            timings["rollups"] += time.perf_counter() - started
            started = time.perf_counter()
            with db.transaction():
                vee.run(db, now=cut, default_country=COUNTRY, options=VeeSettings())
            timings["vee"] += time.perf_counter() - started
            started = time.perf_counter()
            anomalies.scan(db, as_of=cut, default_country=COUNTRY, options=options)
            timings["scan"] += time.perf_counter() - started
            logger.info(
                "%s: %d readings published; %s",
                cut.isoformat(timespec="minutes"),
                published,
                ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items()),
            )
            for row in db.execute(
                "SELECT id, meter_id, kind, started_at, ended_at FROM incident"
            ).fetchall():
                known = seen.get(row[0])
                seen[row[0]] = Seen(
                    meter=number_of[row[1]],
                    kind=row[2],
                    started_at=row[3],
                    ended_at=row[4],
                    first_seen=cut if known is None else known.first_seen,
                )
        quarantined = db.execute("SELECT reason, count(*) FROM quarantine GROUP BY 1").fetchall()
    lines = score(labels, list(seen.values()))
    lines.append(
        f"{published} readings published in {len(cuts)} steps; quarantined messages by reason:"
        f" {dict(quarantined) or 'none'}; time spent: "
        + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items())
    )
    return lines


# --- part 2: scan time -------------------------------------------------------------------

_PG_EPOCH_S = int(datetime(2000, 1, 1, tzinfo=UTC).timestamp())
# Binary COPY rows of (meter_id int4, time timestamptz, source text 'iot', index_l int8): fixed
# width, so numpy writes them a day of the fleet at a time.
_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("meter_len", ">i4"),
        ("meter", ">i4"),
        ("time_len", ">i4"),
        ("time", ">i8"),
        ("source_len", ">i4"),
        ("source", "S3"),
        ("index_len", ">i4"),
        ("index", ">i8"),
    ]
)


def _copy_fleet(db: psycopg.Connection[Any], fleet: Fleet, ids: np.ndarray, days: range) -> int:
    per_day = SECONDS_PER_DAY // fleet.config.interval_s
    rows = 0
    with (
        db.cursor() as cur,
        cur.copy(
            "COPY reading (meter_id, time, source, index_l) FROM STDIN (FORMAT BINARY)"
        ) as copy,
    ):
        copy.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0))
        for day in days:
            times, index_l, _ = fleet.readings(day * per_day, per_day)
            block = np.empty(index_l.shape, dtype=_ROW)
            block["fields"], block["meter_len"], block["time_len"] = 4, 4, 8
            block["source_len"], block["index_len"] = 3, 8
            block["meter"] = ids[:, None]
            block["time"] = ((times.astype(np.int64) - _PG_EPOCH_S) * 1_000_000)[None, :]
            block["source"] = b"iot"
            block["index"] = index_l
            copy.write(block.tobytes())
            rows += block.size
        copy.write(struct.pack(">h", -1))
    return rows


_STATE = """
INSERT INTO meter_state (meter_id, last_time, last_index_l, last_received_at, readings_total)
SELECT meter_id, max(time), last(index_l, time), max(time), count(*)
FROM reading GROUP BY meter_id
"""
# Daily volumes of the days a scan reads, from the readings at local midnight (hourly readings
# fall on it exactly): what the rollup refresh would write, derived in one statement.
_DAILY = """
INSERT INTO meter_daily (meter_id, day, volume_l, start_index_l, end_index_l, reading_count)
SELECT meter_id, day, next_index - index_l, index_l, next_index, 24
FROM (
    SELECT meter_id, ((time AT TIME ZONE 'Pacific/Port_Moresby')::date) AS day, index_l,
           lead(index_l) OVER (PARTITION BY meter_id ORDER BY time) AS next_index
    FROM reading
    WHERE time >= %(since)s AND time = date_trunc('day', time + interval '10 hours')
                                       - interval '10 hours'
) d
WHERE next_index IS NOT NULL
"""


def _backend_cpu_s(pid: int) -> float:
    """CPU seconds a local PostgreSQL backend has used (Linux /proc): the machine is shared,
    so wall time alone mixes our work with everyone else's."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scan_time(args: argparse.Namespace, pg: LocalPostgres) -> list[str]:
    url = pg.url("timing")
    settings = Settings(database_url=SecretStr(url))
    upgrade(settings)
    config = FleetConfig(meters=args.scan_meters, seed=args.seed + 1, serial_prefix="TIME")
    fleet = Fleet(config)
    today = (datetime.now(UTC) + timedelta(seconds=UTC_OFFSET_S)).date()
    last_day = (today - ANCHOR_DATE).days - 1
    first_day = last_day - args.scan_days + 1
    _register(settings, fleet, first_day, [])
    with psycopg.connect(url, autocommit=True) as db:
        ids = np.array(
            [r[0] for r in db.execute("SELECT id FROM meter ORDER BY serial").fetchall()]
        )
        started = time.perf_counter()
        with db.transaction():
            rows = _copy_fleet(db, fleet, ids, range(first_day, last_day + 1))
        loaded = time.perf_counter() - started
        now = local_day_start(last_day + 1, UTC_OFFSET_S)
        started = time.perf_counter()
        db.execute(_STATE)
        db.execute(_DAILY, {"since": now - timedelta(days=50)})
        db.execute("ANALYZE")
        derived = time.perf_counter() - started
        options = AnalyticsSettings()
        timings = []
        backend = db.info.backend_pid
        for _ in range(args.scan_runs):
            started = time.perf_counter()
            with db.transaction():
                vee.run(db, now=now, default_country=COUNTRY, options=VeeSettings())
            vee_s = time.perf_counter() - started
            started = time.perf_counter()
            cpu = (time.process_time(), _backend_cpu_s(backend))
            report = anomalies.scan(
                db, as_of=now, default_country=COUNTRY, meter_ids=ids.tolist(), options=options
            )
            timings.append((vee_s, time.perf_counter() - started, report))
            logger.info(
                "VEE %.1f s, scan %.1f s wall; scan CPU: %.1f s in Python, %.1f s in its"
                " PostgreSQL backend; load average %.1f",
                vee_s,
                timings[-1][1],
                time.process_time() - cpu[0],
                _backend_cpu_s(backend) - cpu[1],
                os.getloadavg()[0],
            )
    best = min(timings, key=lambda t: t[1])
    return [
        f"scan time: {args.scan_meters} meters x {args.scan_days} days, {rows} hourly readings"
        f" loaded by binary COPY in {loaded:.0f} s (meter_state and daily rollups derived in SQL"
        f" in {derived:.0f} s)",
        f"full scan (all meters, {options.history_days}+{options.detect_days} days read per"
        f" meter): "
        + ", ".join(f"{t[1]:.1f} s" for t in timings)
        + f" (target < {SCAN_TARGET_S:.0f} s); VEE over the fleet: "
        + ", ".join(f"{t[0]:.1f} s" for t in timings)
        + f"; findings {best[2].findings}, incidents opened {timings[0][2].opened}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=600, help="quality fleet size")
    parser.add_argument("--per-kind", type=int, default=20, help="labelled meters per kind")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--batch", type=int, default=6, help="hourly readings per upload")
    parser.add_argument("--history-days", type=int, default=42)
    parser.add_argument("--eval-days", type=int, default=10, help="anomalies start in these")
    parser.add_argument("--tail-days", type=int, default=14, help="then scanning goes on")
    parser.add_argument("--step-hours", type=int, default=6, help="scan every ... (simulated)")
    parser.add_argument("--scan-meters", type=int, default=10_000)
    parser.add_argument("--scan-days", type=int, default=90)
    parser.add_argument("--scan-runs", type=int, default=2)
    parser.add_argument("--part", choices=["all", "quality", "scan"], default="all")
    args = parser.parse_args()
    # Stopped by a signal, still stop the servers and the ingest process (context managers).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("analytics").setLevel(logging.WARNING)
    with LocalPostgres(durable=False) as pg, LocalMosquitto(allow_anonymous=True) as broker:
        if args.part in ("all", "quality"):
            upgrade(Settings(database_url=SecretStr(pg.url("waterbill"))))
            for line in quality(args, pg, broker):
                logger.info("%s", line)
        if args.part in ("all", "scan"):
            for line in scan_time(args, pg):
                logger.info("%s", line)


if __name__ == "__main__":
    main()
