"""Validation, estimation and editing (VEE) of meter readings.

Raw readings are never rewritten: each rule writes a row of ``reading_flag`` beside the reading
(its status, the raw index, the index billing may use), and estimates are readings of their own
source, ``estimated``, which an actual reading supersedes (they are deleted and the gap is
estimated again from both ends). Every change to ``reading`` and every review of a flag goes to
``audit_log`` (who, when, why).

Rules, judged on each actual reading (IoT or a technician's) against the previous one:

- ``rollover``: the register went back by more than half its range, i.e. it wrapped at
  ``10**register_digits``; the wrapped volume counts (accepted).
- ``negative_step``: any other step back; accepted when the meter itself reports reverse flow,
  suspect otherwise (misread, swapped register).
- ``spike``: more than ``spike_ratio`` times the meter's average day per day elapsed.
- ``gap``: an IoT meter's readings further apart than ``gap_intervals`` reporting intervals; the
  gap is estimated (linearly up to ``short_gap_s``, from the meter's own hourly profile beyond).
- ``zero_occupied``: ``zero_days`` days in a row without consumption in an occupied dwelling
  that usually consumes.

Silent meters get estimates from their last reading up to now, at their profile's rate, which
the next actual reading replaces.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from analytics.vee.estimate_repository import EstimateRepository
from analytics.vee.repository import VeeRepository
from core.config_analytics import VeeSettings

logger = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=5)
_EARLIEST = datetime.fromisoformat("1970-01-01T00:00:00+00:00")


@dataclass(frozen=True)
class VeeReport:
    meters: int
    steps: int
    flags: int
    estimates_replaced: int
    estimates_written: int


def run(
    conn: psycopg.Connection[Any],
    *,
    now: datetime,
    default_country: str,
    meter_ids: Sequence[int] | None = None,
    options: VeeSettings | None = None,
) -> VeeReport:
    """Validate what arrived since the last run, replace superseded estimates, estimate gaps.

    ``default_country`` is the deployment's: its time zone cuts the days of meters without a
    dwelling.

    Incremental: without ``meter_ids`` it judges readings received after its watermark (when
    the newest data had arrived at its last run) and moves it; with them, every reading of
    those meters in the look-back window. Never commits; re-running it changes nothing.
    """
    if conn.autocommit and conn.info.transaction_status is TransactionStatus.IDLE:
        # Its staging tables live until the commit, and flags without their estimates (or a
        # moved watermark without either) must never be committed alone.
        raise RuntimeError("vee.run needs a transaction: use `with conn.transaction()`")
    options = options or VeeSettings()
    repo = VeeRepository(conn)
    estimates = EstimateRepository(conn)
    repo.lock()
    watermark = None
    received_until = repo.received_until()
    if meter_ids is None:
        watermark = repo.watermark()
        received_after = _EARLIEST if watermark is None else watermark - OVERLAP
        touched = repo.touched_meters(None if watermark is None else received_after)
    else:
        received_after = _EARLIEST
        touched = list(meter_ids)
    silent_before = now - timedelta(seconds=options.short_gap_s)
    targets = sorted(set(touched) | set(repo.silent_meters(before=silent_before)))
    usual_from = now - timedelta(days=options.usual_days)
    steps = repo.stage(
        targets,
        window_from=now - timedelta(days=options.lookback_days),
        now=now,
        received_after=received_after,
        usual_from=usual_from,
        default_country=default_country,
    )
    params = {
        "now": now,
        "spike_ratio": options.spike_ratio,
        "spike_min_l": options.spike_min_l,
        "gap_intervals": options.gap_intervals,
        "short_gap_s": options.short_gap_s,
        "min_usual_l": options.min_usual_daily_l,
        "zero_days": options.zero_days,
        "first_day": (now - timedelta(days=options.lookback_days + options.zero_days)).date(),
        "usual_from_ts": usual_from,
        "usual_span": timedelta(days=options.usual_days),
        "max_span": timedelta(days=options.max_estimate_days),
    }
    flags = repo.write_flags(params) + repo.flag_zero_days(params)
    replaced = estimates.replace_superseded()
    written, _ = estimates.estimate(params)
    if meter_ids is None and received_until is not None:
        repo.set_watermark(received_until)
    report = VeeReport(
        meters=len(targets),
        steps=steps,
        flags=flags,
        estimates_replaced=replaced,
        estimates_written=written,
    )
    logger.info(
        "vee: %d meters, %d steps judged, %d flags, %d estimates replaced, %d written",
        report.meters,
        report.steps,
        report.flags,
        report.estimates_replaced,
        report.estimates_written,
    )
    return report


def review(
    conn: psycopg.Connection[Any],
    *,
    meter_id: int,
    at: datetime,
    rule: str,
    status: str,
    validated_index_l: int | None,
    actor_id: int | None,
    reason: str,
) -> bool:
    """A person's decision on a flag (accept, reject, correct the index), audited with the
    values before and after. Returns False when there is no such flag."""
    if status not in ("accepted", "suspect", "rejected", "estimated"):
        raise ValueError(f"unknown flag status {status!r}")
    if not reason.strip():
        raise ValueError("an edit needs a reason")
    return VeeRepository(conn).review(
        meter_id=meter_id,
        at=at,
        rule=rule,
        status=status,
        validated_index_l=validated_index_l,
        actor_id=actor_id,
        reason=reason,
    )
