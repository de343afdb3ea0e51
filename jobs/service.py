"""Long work started on request: the API defers it as jobs and answers with their ids.

A close runs as one ``close_zone`` job per zone. Each job's lock and queueing lock are named
after its period and zone: one close of a zone and month runs at a time, and asking again while
one waits answers that job instead of queueing another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy.ext.asyncio import AsyncSession

from billing.close import service as close_service
from billing.close.period import Period
from jobs.repository import JobRepository

# A job that holds the queueing lock may start (and free it) between our defer and our lookup;
# deferring again then succeeds. Past this many tries something else is wrong.
DEFER_TRIES = 3


@dataclass(frozen=True)
class QueuedClose:
    zone_id: int
    job_id: int
    already_queued: bool


def close_lock(period: Period, zone_id: int) -> str:
    return f"close_zone:{period.label}:{zone_id}"


async def queue_closes(
    session: AsyncSession,
    app: procrastinate.App,
    *,
    period: Period,
    zone_ids: Sequence[int] | None,
) -> list[QueuedClose]:
    """One ``close_zone`` job per zone asked for (every zone when none), or the one waiting."""
    queued = []
    for zone_id in await close_service.zones_to_close(session, zone_ids):
        lock = close_lock(period, zone_id)
        task = app.tasks["close_zone"].configure(lock=lock, queueing_lock=lock)
        for _ in range(DEFER_TRIES):
            try:
                job_id = await task.defer_async(period=period.label, zone_id=zone_id)
            except AlreadyEnqueued:
                waiting = await JobRepository(session).waiting_job_id(lock)
                if waiting is not None:
                    queued.append(QueuedClose(zone_id, waiting, already_queued=True))
                    break
            else:
                queued.append(QueuedClose(zone_id, job_id, already_queued=False))
                break
        else:
            raise RuntimeError(f"could not queue the close of zone {zone_id} ({lock})")
    return queued
