"""Per-meter hourly and daily volumes, kept up to date from the ``rollup_pending`` queue.

Volumes are differences of the integer register index, never sums of flows. The index at each
local hour boundary is interpolated linearly between the readings around it and rounded once, so
the volumes of consecutive hours (and of the days made of them) add up exactly to the index
difference. Ingest queues ``(meter_id, since)`` with each batch; a refresh rebuilds, per meter,
from the hour holding the last reading before ``since``: a late reading re-opens only the hours
whose boundaries it moves. Rows that come out unchanged are not rewritten.

Register rules (pairwise, so a refresh needs no state from earlier hours):

- a decrease consistent with the register wrapping at ``10**register_digits`` counts as the
  wrapped volume;
- any other decrease counts zero and flags the hour (``negative_step``); counting resumes from
  the new index. Whether it was reverse flow or a misread is the VEE's call, later.
- a meter counts from ``initial_index_l`` at ``installed_at``; readings after ``removed_at`` are
  ignored, so a replacement meter has its own rollups from its own installation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from analytics.rollups.repository import RollupRepository

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefreshResult:
    meters: int
    hours_written: int = 0
    hours_removed: int = 0
    days_written: int = 0
    days_removed: int = 0


def refresh_pending(
    conn: psycopg.Connection[Any], *, limit: int, default_country: str, work_mem: str = "64MB"
) -> RefreshResult:
    """Claim up to ``limit`` queued meters and rebuild the hours and days their new data touches.

    Runs in the caller's transaction (the claim is undone if it rolls back). Several refreshers
    may run at once: each claims with ``FOR UPDATE SKIP LOCKED`` and never waits for another.

    Args:
        conn: a psycopg connection inside a transaction.
        limit: most meters to claim.
        default_country: country whose time zone applies to meters without a dwelling.
        work_mem: PostgreSQL ``work_mem`` for this transaction's sorts (``rollup.work_mem``).
    """
    if conn.autocommit and conn.info.transaction_status is TransactionStatus.IDLE:
        # Each statement would commit on its own: the claim without the rollups it promises.
        raise RuntimeError("refresh_pending needs a transaction: use `with conn.transaction()`")
    repository = RollupRepository(conn)
    meters = repository.claim(limit=limit, default_country=default_country, work_mem=work_mem)
    if meters == 0:
        return RefreshResult(meters=0)
    hours = repository.refresh_hourly()
    days = repository.refresh_daily()
    logger.debug(
        "refreshed %d meters: %d hours written, %d days written",
        meters,
        hours.written,
        days.written,
    )
    return RefreshResult(
        meters=meters,
        hours_written=hours.written,
        hours_removed=hours.removed,
        days_written=days.written,
        days_removed=days.removed,
    )


def drop_old_readings(conn: psycopg.Connection[Any], *, older_than: datetime) -> list[str]:
    """Drop the raw-reading chunks that end before ``older_than``, but never one holding
    readings the rollups have not taken in yet: the hourly and daily volumes (what billing,
    dashboards and reports read) must exist for a range before its raw readings go.

    Returns:
        The dropped chunks' names.
    """
    pending = RollupRepository(conn).oldest_pending()
    cutoff = older_than if pending is None else min(older_than, pending)
    dropped = RollupRepository(conn).drop_reading_chunks(cutoff)
    logger.info("retention: %d reading chunks before %s dropped", len(dropped), cutoff)
    return dropped


def rolled_up_before(conn: psycopg.Connection[Any]) -> datetime | None:
    """An instant before which every received reading is in the rollups (None: all are)."""
    return RollupRepository(conn).oldest_queued_at()
