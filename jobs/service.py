"""Long work started on request: the API defers it as jobs and answers with their ids, and an
administrator queues a failed job again.

A close and an issue run as one job per zone (``close_zone``, ``issue_zone``). Each job's lock and
queueing lock are named after its task, period and zone: one close (or issue) of a zone and month
runs at a time, and asking again while one waits answers that job instead of queueing another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import procrastinate
from croniter import croniter
from procrastinate.exceptions import AlreadyEnqueued, ConnectorException, UniqueViolation
from sqlalchemy.ext.asyncio import AsyncSession

from billing.close import service as close_service
from billing.close.period import Period
from core.config_jobs import JobsSettings
from jobs.app import schedule
from jobs.exceptions import JobNotFound, JobNotRetryable
from jobs.repository import JobRepository

# A job that holds the queueing lock may start (and free it) between our defer and our lookup;
# deferring again then succeeds. Past this many tries something else is wrong.
DEFER_TRIES = 3

# What procrastinate's own retry takes back to `todo` (procrastinate_retry_job_v2).
RETRYABLE = "failed"
# Finished without running to the end: deferred again as a new job, same task, arguments, locks.
DEFER_AGAIN = ("cancelled", "aborted")


@dataclass(frozen=True)
class QueuedZoneJob:
    zone_id: int
    job_id: int
    already_queued: bool


@dataclass(frozen=True)
class Retried:
    job_id: int  # the job now waiting: the same one (failed), or a new one (cancelled)
    retried_id: int


@dataclass(frozen=True)
class ScheduledTask:
    task: str
    cron: str
    next_at: datetime


def schedule_ahead(jobs: JobsSettings, *, now: datetime) -> list[ScheduledTask]:
    """Each periodic task with its cron and next run after ``now``, soonest first (UTC, as
    procrastinate's periodic deferrer reads the crons)."""
    crons = {name: cron for name, (_, cron) in schedule(jobs).items()}
    crons["retry_stalled"] = jobs.stalled_cron
    ahead = [
        ScheduledTask(
            task=name,
            cron=cron,
            next_at=datetime.fromtimestamp(croniter(cron, now).get_next(float), UTC),
        )
        for name, cron in crons.items()
    ]
    return sorted(ahead, key=lambda s: (s.next_at, s.task))


def zone_lock(task: str, period: Period, zone_id: int) -> str:
    return f"{task}:{period.label}:{zone_id}"


def close_lock(period: Period, zone_id: int) -> str:
    return zone_lock("close_zone", period, zone_id)


async def _queue_per_zone(
    session: AsyncSession,
    app: procrastinate.App,
    *,
    task_name: str,
    period: Period,
    zone_ids: Sequence[int] | None,
    **args: Any,
) -> list[QueuedZoneJob]:
    queued = []
    for zone_id in await close_service.zones_to_close(session, zone_ids):
        lock = zone_lock(task_name, period, zone_id)
        task = app.tasks[task_name].configure(lock=lock, queueing_lock=lock)
        for _ in range(DEFER_TRIES):
            try:
                job_id = await task.defer_async(period=period.label, zone_id=zone_id, **args)
            except AlreadyEnqueued:
                waiting = await JobRepository(session).waiting_job_id(lock)
                if waiting is not None:
                    queued.append(QueuedZoneJob(zone_id, waiting, already_queued=True))
                    break
            else:
                queued.append(QueuedZoneJob(zone_id, job_id, already_queued=False))
                break
        else:
            raise RuntimeError(f"could not queue {task_name} of zone {zone_id} ({lock})")
    return queued


async def queue_closes(
    session: AsyncSession,
    app: procrastinate.App,
    *,
    period: Period,
    zone_ids: Sequence[int] | None,
) -> list[QueuedZoneJob]:
    """One ``close_zone`` job per zone asked for (every zone when none), or the one waiting."""
    return await _queue_per_zone(
        session, app, task_name="close_zone", period=period, zone_ids=zone_ids
    )


async def queue_issues(
    session: AsyncSession,
    app: procrastinate.App,
    *,
    period: Period,
    zone_ids: Sequence[int] | None,
    at: datetime,
    force: bool,
    issued_by: int | None,
) -> list[QueuedZoneJob]:
    """One ``issue_zone`` job per zone (every zone when none), or the one waiting.

    The request's instant ``at`` goes with the job: a retry the next morning dates and numbers
    the invoices as the request did (each country's day at ``at``), after the same grace check
    the caller made before queueing.
    """
    return await _queue_per_zone(
        session,
        app,
        task_name="issue_zone",
        period=period,
        zone_ids=zone_ids,
        at=at.isoformat(),
        force=force,
        issued_by=issued_by,
    )


async def queue_meter_import(app: procrastinate.App, *, import_id: int) -> int:
    """The job that registers the checked file ``import_id`` (``registry.imports``)."""
    job_id: int = await app.tasks["import_meters"].defer_async(import_id=import_id)
    return job_id


async def retry_job(session: AsyncSession, app: procrastinate.App, *, job_id: int) -> Retried:
    """Queue a failed job again (procrastinate's retry: same row, one more attempt), or a
    cancelled one as a new job with the same task, arguments and locks.

    Raises:
        JobNotFound: no such job.
        JobNotRetryable: the job is waiting, running or done, or the same work (its queueing
            lock) already waits.
    """
    job = await JobRepository(session).retry_target(job_id)
    if job is None:
        raise JobNotFound(f"no job with id {job_id}")
    waits = f"the same work already waits in the queue (lock {job.queueing_lock})"
    if job.status == RETRYABLE:
        try:
            await app.job_manager.retry_job_by_id_async(job_id, retry_at=datetime.now(UTC))
        except UniqueViolation:
            raise JobNotRetryable(f"job {job_id} cannot be queued again: {waits}") from None
        except ConnectorException:
            # Retried (or deleted) by someone else between our read and our update.
            raise JobNotRetryable(f"job {job_id} is no longer failed") from None
        return Retried(job_id=job_id, retried_id=job_id)
    if job.status in DEFER_AGAIN:
        if job.task_name not in app.tasks:
            raise JobNotRetryable(f"job {job_id}: task {job.task_name!r} no longer exists")
        task = app.tasks[job.task_name].configure(
            lock=job.lock, queueing_lock=job.queueing_lock, queue=job.queue_name
        )
        try:
            new_id = await task.defer_async(**job.args)
        except AlreadyEnqueued:
            raise JobNotRetryable(f"job {job_id} cannot be queued again: {waits}") from None
        return Retried(job_id=new_id, retried_id=job_id)
    raise JobNotRetryable(
        f"job {job_id} is {job.status}: only a failed or cancelled job can be retried"
    )
