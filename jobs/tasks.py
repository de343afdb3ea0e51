"""The recurring work as tasks: each parses its arguments, calls a domain service, logs.

Periodic tasks (jobs/app.py registers them with their schedule) get ``timestamp`` from
procrastinate: the scheduled instant, in Unix seconds. Calendar work (overdue, reminders) runs as
of that instant's day, so a retry the next morning still judges the day it was meant for; work
that follows the data (rollups, scan, alerts, polling) reads the clock when it runs, and hands
it on: the scan's partition jobs judge as of their parent's instant, retried or not.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta

import procrastinate
import psycopg
from procrastinate.exceptions import AlreadyEnqueued, UniqueViolation
from procrastinate.job_context import JobContext
from procrastinate.jobs import Status
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from analytics.alerts.service import run_alerts
from analytics.anomalies import service as anomalies
from analytics.rollups.service import drop_old_readings, refresh_pending, rolled_up_before
from analytics.vee import service as vee
from billing.close import late
from billing.close.service import CloseSummary
from billing.invoices import service as invoice_service
from billing.payments.clients import make_provider_clients
from billing.payments.service import daily_reminders, poll_pending
from core.config import get_settings
from core.db import make_async_engine
from core.notifications import service as notifications
from core.notifications.service import DrainReport, RetryPolicy
from core.sms import make_sms_provider
from jobs import repository

logger = logging.getLogger(__name__)

# Pending payments asked about per run, as `waterbill payments poll` does by default.
POLL_LIMIT = 500


def scheduled_at(timestamp: int) -> datetime:
    """The scheduled instant a periodic job was deferred for."""
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise TypeError(f"timestamp must be Unix seconds, not {timestamp!r}")
    return datetime.fromtimestamp(timestamp, UTC)


@asynccontextmanager
async def open_engine() -> AsyncIterator[AsyncEngine]:
    """An engine for one job run, disposed after it."""
    engine = make_async_engine(get_settings())
    try:
        yield engine
    finally:
        await engine.dispose()


def refresh_rollups(timestamp: int) -> None:
    """Drain the rollup queue, one transaction per batch of meters."""
    at = scheduled_at(timestamp)
    meters = _drain_rollups()
    logger.info("rollups (%s): refreshed %d meters", at.isoformat(), meters)


def _drain_rollups() -> int:
    settings = get_settings()
    meters = 0
    with psycopg.connect(settings.dsn) as conn:
        while True:
            with conn.transaction():
                result = refresh_pending(
                    conn,
                    limit=settings.rollup.batch_meters,
                    default_country=settings.default_country,
                    work_mem=settings.rollup.work_mem,
                )
            if result.meters == 0:
                return meters
            meters += result.meters


async def scan(context: JobContext, timestamp: int) -> None:
    """VEE over what arrived since its watermark, then one anomaly-scan job per partition of
    the meters (``scan_partition``), all as of this run's clock."""
    at = scheduled_at(timestamp)
    settings = get_settings()
    as_of = datetime.now(UTC)
    # Sync psycopg, off the event loop (the worker's heartbeat goes on).
    checked = await asyncio.to_thread(_vee, as_of)
    queued = await defer_scan_partitions(
        context.app, as_of=as_of, partitions=settings.analytics.partitions
    )
    logger.info(
        "scan (%s): validated %d readings of %d meters (%d flags, %d estimates written);"
        " anomaly scan as of %s queued as jobs %s",
        at.isoformat(),
        checked.steps,
        checked.meters,
        checked.flags,
        checked.estimates_written,
        as_of.isoformat(),
        queued,
    )


def _vee(as_of: datetime) -> vee.VeeReport:
    settings = get_settings()
    with psycopg.connect(settings.dsn) as conn, conn.transaction():
        return vee.run(
            conn, now=as_of, default_country=settings.default_country, options=settings.vee
        )


def scan_lock(partition: int, partitions: int) -> str:
    return f"scan_partition:{partition}/{partitions}"


async def defer_scan_partitions(
    app: procrastinate.App, *, as_of: datetime, partitions: int
) -> list[int]:
    """One ``scan_partition`` job per partition, each with its own lock (one run of a partition
    at a time) and queueing lock (one more waiting at most): a partition whose job still waits
    is left to it, and the next run judges on from wherever it got to."""
    ids = []
    for partition in range(partitions):
        lock = scan_lock(partition, partitions)
        try:
            ids.append(
                await app.configure_task(
                    "scan_partition", lock=lock, queueing_lock=lock
                ).defer_async(partition=partition, as_of=as_of.isoformat())
            )
        except AlreadyEnqueued:
            logger.info("scan partition %s: a job already waits", lock)
    return ids


def scan_partition(partition: int, as_of: str) -> None:
    """The anomaly scan of one partition of the meters, as of ``as_of`` (ISO 8601), in short
    transactions: killed half-way, it is run again and judges on from its watermarks."""
    settings = get_settings()
    with psycopg.connect(settings.dsn) as conn:
        report = anomalies.scan(
            conn,
            as_of=datetime.fromisoformat(as_of),
            partition=partition,
            default_country=settings.default_country,
            options=settings.analytics,
        )
    logger.info(
        "scan partition %d as of %s: scanned %d meters: %d findings, %d opened, %d updated,"
        " %d resolved",
        partition,
        as_of,
        report.meters,
        report.findings,
        report.opened,
        report.updated,
        report.resolved,
    )


def send_alerts(timestamp: int) -> None:
    """Queue SMS for newly confirmed incidents, then send every one that is due."""

    at = scheduled_at(timestamp)
    settings = get_settings()
    with psycopg.connect(settings.dsn, autocommit=True) as conn:
        report = run_alerts(
            conn,
            provider=make_sms_provider(settings),
            policy=RetryPolicy.of(settings.sms),
            now=datetime.now(UTC),
            options=settings.alerts,
        )
    logger.info("alerts (%s): %s", at.isoformat(), report)


async def mark_overdue(timestamp: int) -> None:
    """Mark issued invoices overdue once their due date has passed in their country, as of the
    scheduled instant (hourly by default: a country's day starts at its own midnight)."""
    at = scheduled_at(timestamp)
    async with open_engine() as engine, AsyncSession(engine) as session, session.begin():
        count = await invoice_service.mark_overdue(session, at=at)
    logger.info("overdue (%s): %d invoices overdue", at.isoformat(), count)


async def remind(timestamp: int) -> None:
    """`bill remind`: credit pays new invoices, penalties are proposed, billing SMS are queued in
    the same transaction, then the SMS outbox is drained."""
    day = scheduled_at(timestamp).date()
    settings = get_settings()
    async with open_engine() as engine, AsyncSession(engine) as session, session.begin():
        run = await daily_reminders(
            session,
            today=day,
            reminder_days=settings.payments.reminder_days,
            now=datetime.now(UTC),
            billing=settings.billing,
        )
    # The drain is sync psycopg: off the event loop, which keeps the worker's heartbeat going.
    sms = await asyncio.to_thread(drain_outbox)
    logger.info(
        "remind (%s): %d invoices paid from credit, %d penalties proposed;"
        " SMS: %s, %d without a phone number",
        day.isoformat(),
        run.allocations,
        run.penalties_proposed,
        sms,
        run.notices.no_recipient,
    )


def drain_outbox(ids: list[int] | None = None) -> DrainReport:
    """Send the queued SMS that are due (only ``ids`` if given); sync psycopg."""
    settings = get_settings()
    with psycopg.connect(settings.dsn, autocommit=True) as conn:
        return notifications.drain(
            conn,
            provider=make_sms_provider(settings),
            policy=RetryPolicy.of(settings.sms),
            now=datetime.now(UTC),
            ids=ids,
        )


async def poll_payments(timestamp: int) -> None:
    """Ask the mobile-money providers about pending payments whose callback has not come."""

    at = scheduled_at(timestamp)
    settings = get_settings()
    async with open_engine() as engine:
        result = await poll_pending(
            engine,
            clients=make_provider_clients(settings.payments),
            settings=settings.payments,
            now=datetime.now(UTC),
            limit=POLL_LIMIT,
        )
    logger.info(
        "payments poll (%s): polled %d: %d succeeded, %d failed, %d still pending,"
        " %d unreachable; %d expired",
        at.isoformat(),
        result.polled,
        result.succeeded,
        result.failed,
        result.still_pending,
        result.unreachable,
        result.expired,
    )


async def retry_stalled(context: JobContext, timestamp: int) -> None:
    """Queue again the jobs of workers that died mid-job (SIGKILL, lost machine): their lock
    would otherwise hold every later run of the same task back.

    Where the same task already waits in the queue (its queueing lock), the dead run is marked
    failed instead: the waiting one does the same work, and both cannot wait at once.
    """
    at = scheduled_at(timestamp)
    after_s = get_settings().jobs.stalled_after_s
    manager = context.app.job_manager
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=after_s):
        assert job.id is not None
        await repository.record_failure(
            context.app.connector,
            job_id=job.id,
            attempt=job.attempts + 1,
            error_type="WorkerLost",
            error=f"its worker stopped beating for {after_s} s mid-job",
        )
        try:
            await manager.retry_job(job)
        except UniqueViolation:
            await manager.finish_job(job, status=Status.FAILED, delete_job=False)
            logger.warning(
                "stalled (%s): job %s (%s) failed, the same task already waits",
                at.isoformat(),
                job.id,
                job.task_name,
            )
        else:
            logger.warning(
                "stalled (%s): job %s (%s) queued again", at.isoformat(), job.id, job.task_name
            )


def late_data(timestamp: int) -> None:
    """Re-close the zones of issued months that received readings after their invoices were
    computed: changed figures become regularisations for two administrators
    (``billing.close.late``). Sync, so procrastinate runs it in a thread."""
    at = scheduled_at(timestamp)
    jobs = get_settings().jobs
    until = datetime.now(UTC) - timedelta(seconds=jobs.late_data_settle_s)
    oldest = until.date() - timedelta(days=jobs.late_data_lookback_days)
    # The re-close reads the rollups: late readings received up to `until` are in them first,
    # or `until` stops short of the oldest one still queued (another refresher may hold it).
    _drain_rollups()
    with psycopg.connect(get_settings().dsn, autocommit=True) as conn:
        queued = rolled_up_before(conn)
    if queued is not None:
        # Strictly before: the queued readings were received at that instant or later.
        until = min(until, queued - timedelta(microseconds=1))
    summaries = asyncio.run(
        _late_data(until=until, oldest=oldest, margin_days=jobs.late_data_margin_days)
    )
    logger.info(
        "late data (%s): %d zone-months re-closed, %d regularisations pending: %s",
        at.isoformat(),
        len(summaries),
        sum(s.regularisations for s in summaries),
        summaries,
    )


async def _late_data(*, until: datetime, oldest: date, margin_days: int) -> list[CloseSummary]:
    summaries = []
    async with open_engine() as engine:
        async with AsyncSession(engine) as session, session.begin():
            months = await late.late_months(
                session, until=until, oldest=oldest, margin_days=margin_days
            )
        # One transaction per month: each holds that month's lock only while it re-closes.
        for month in months:
            async with AsyncSession(engine) as session, session.begin():
                summaries.append(await late.reclose(session, month=month))
        async with AsyncSession(engine) as session, session.begin():
            await late.mark_checked(session, until=until, oldest=oldest)
    return summaries


def retention(timestamp: int) -> None:
    """Drop raw-reading chunks older than ``jobs.retention_days`` that the rollups cover."""
    at = scheduled_at(timestamp)
    settings = get_settings()
    if not settings.jobs.retention_days:
        logger.info("retention (%s): off (jobs.retention_days = 0)", at.isoformat())
        return
    older_than = at - timedelta(days=settings.jobs.retention_days)
    with psycopg.connect(settings.dsn) as conn, conn.transaction():
        dropped = drop_old_readings(conn, older_than=older_than)
    logger.info("retention (%s): dropped %d chunks %s", at.isoformat(), len(dropped), dropped)
