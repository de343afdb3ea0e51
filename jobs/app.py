"""The procrastinate app: our tasks with their schedules, locks and retries, and the worker.

Any worker also defers the periodic jobs (procrastinate runs its periodic deferrer inside every
worker): each scheduled occurrence is inserted once, however many workers see it, because
``procrastinate_periodic_defers`` is unique on (task, scheduled time). Each task carries a lock
and a queueing lock named after it, so one run at a time executes and at most one more waits:
a slow scan is never run twice at once, and missed ticks do not pile up behind it.
Ref: https://procrastinate.readthedocs.io/en/stable/howto/advanced/cron.html
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import procrastinate
from procrastinate.job_context import JobContext
from procrastinate.worker import Worker
from prometheus_client import start_http_server

from core.config import Settings
from core.config_jobs import JobsSettings
from jobs import metrics, repository, requested, tasks

logger = logging.getLogger(__name__)

# Connections a worker's pool opens beyond one per concurrent job: the LISTEN connection, the job
# fetcher and the status writes. Sync tasks open their own connection besides.
POOL_OVERHEAD = 3

Periodic = Callable[..., Any]
# Periodic tasks that defer others (their context carries the app).
WITH_CONTEXT = {"scan"}


def schedule(jobs: JobsSettings) -> dict[str, tuple[Periodic, str]]:
    """Every recurring piece of work: task name -> (function, cron)."""
    return {
        "rollups": (tasks.refresh_rollups, jobs.rollup_cron),
        "scan": (tasks.scan, jobs.scan_cron),
        "alerts": (tasks.send_alerts, jobs.alerts_cron),
        "overdue": (tasks.mark_overdue, jobs.overdue_cron),
        "remind": (tasks.remind, jobs.remind_cron),
        "payments_poll": (tasks.poll_payments, jobs.payments_poll_cron),
        "late_data": (tasks.late_data, jobs.late_data_cron),
        "retention": (tasks.retention, jobs.retention_cron),
    }


def make_app(settings: Settings) -> procrastinate.App:
    """The app on our database, with every periodic task registered; open it before use."""
    connector = procrastinate.PsycopgConnector(
        conninfo=settings.dsn, min_size=1, max_size=settings.jobs.concurrency + POOL_OVERHEAD
    )
    app = procrastinate.App(
        connector=connector, periodic_defaults={"max_delay": settings.jobs.catch_up_s}
    )
    retry: procrastinate.RetryStrategy | bool = (
        procrastinate.RetryStrategy(
            max_attempts=settings.jobs.retry_attempts,
            exponential_wait=settings.jobs.retry_backoff_s,
        )
        if settings.jobs.retry_attempts
        else False
    )
    for name, (function, cron) in schedule(settings.jobs).items():
        task = (
            app.task(name=name, retry=retry, lock=name, queueing_lock=name, pass_context=True)(
                function
            )
            if name in WITH_CONTEXT
            else app.task(name=name, retry=retry, lock=name, queueing_lock=name)(function)
        )
        app.periodic(cron=cron)(task)
    # Deferred by `scan`, one per partition, with a lock per partition (tasks.scan_lock).
    app.task(name="scan_partition", retry=retry)(tasks.scan_partition)
    # Deferred on request (jobs.service); the close and the issue with locks per period and zone.
    app.task(name="close_zone", pass_context=True, retry=retry)(requested.close_zone)
    app.task(name="issue_zone", pass_context=True, retry=retry)(requested.issue_zone)
    app.task(name="import_meters", pass_context=True, retry=retry)(requested.import_meters)
    # No lock: a lock held by a dead worker's run of this very task would keep it from ever
    # running again. Two at once are harmless (a job is queued again once).
    stalled = app.task(name="retry_stalled", pass_context=True, queueing_lock="retry_stalled")(
        tasks.retry_stalled
    )
    app.periodic(cron=settings.jobs.stalled_cron)(stalled)
    return app


async def record_failures(
    call_next: Callable[[], Awaitable[Any]], context: JobContext, _worker: Worker
) -> Any:
    """Worker middleware: keep each failed attempt's error, which procrastinate does not."""
    try:
        return await call_next()
    except Exception as exc:
        job = context.job
        assert job.id is not None
        await repository.record_failure(
            context.app.connector,
            job_id=job.id,
            attempt=job.attempts + 1,
            error_type=type(exc).__name__,
            error=str(exc),
        )
        raise


async def run_worker(settings: Settings, *, concurrency: int | None = None) -> None:
    """Run jobs (and defer the periodic ones) until SIGINT/SIGTERM; running jobs finish first."""
    app = make_app(settings)
    if settings.jobs.metrics_port is not None:
        start_http_server(settings.jobs.metrics_port)
    async with app.open_async():
        await app.run_worker_async(
            name=f"{socket.gethostname()}:{os.getpid()}",
            concurrency=concurrency or settings.jobs.concurrency,
            worker_middleware=[metrics.measure, record_failures],
            # A starting worker forgets workers silent this long (their jobs count as stalled).
            stalled_worker_timeout=settings.jobs.stalled_after_s,
            update_heartbeat_interval=settings.jobs.heartbeat_s,
        )
