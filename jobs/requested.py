"""The work started on request (``jobs.service`` defers it): a zone's close and issue, a meter
file's import. Each tells its progress as it goes on a side connection of its own (autocommit,
so ``GET /jobs/{id}`` sees it while the work's transaction is still open), and what it answered
once done.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from procrastinate.job_context import JobContext
from sqlalchemy.ext.asyncio import AsyncSession

from billing import service as billing_service
from billing.close import service as close_service
from billing.close.period import parse_period
from billing.close.service import CloseSummary
from core.config import get_settings
from jobs import repository
from jobs.tasks import drain_outbox, open_engine
from registry import imports
from registry import service as registry_service

logger = logging.getLogger(__name__)

# Meters registered per transaction by an import: a few hundred rows is one quick statement,
# and progress moves often enough to watch on a file of thousands.
IMPORT_BATCH = 500

Side = psycopg.AsyncConnection[Any]


def _job_id(context: JobContext) -> int:
    job_id = context.job.id
    assert job_id is not None
    return job_id


@asynccontextmanager
async def _side() -> AsyncIterator[Side]:
    async with await psycopg.AsyncConnection.connect(get_settings().dsn, autocommit=True) as side:
        yield side


def close_zone(context: JobContext, period: str, zone_id: int) -> None:
    """Draft one zone's invoices of ``period``, telling its progress as it goes.

    Sync, so procrastinate runs it in a thread: the pricing keeps the worker's loop (and its
    heartbeat) free.
    """
    job_id = _job_id(context)
    summary = asyncio.run(_close_zone(job_id, period=period, zone_id=zone_id))
    logger.info("close %s zone %d (job %d): %s", period, zone_id, job_id, summary)


async def _close_zone(job_id: int, *, period: str, zone_id: int) -> CloseSummary:
    async with (
        _side() as side,
        open_engine() as engine,
        AsyncSession(engine) as session,
        session.begin(),
    ):

        async def progress(done: int, total: int) -> None:
            await repository.write_progress(side, job_id=job_id, done=done, total=total)

        return await close_service.close_period(
            session, period=parse_period(period), zone_ids=[zone_id], progress=progress
        )


async def issue_zone(
    context: JobContext,
    period: str,
    zone_id: int,
    at: str,
    force: bool,
    issued_by: int | None,
) -> None:
    """Issue one zone's drafts of ``period`` as of ``at`` (the request's instant), then queue and
    send their new-invoice SMS through the outbox, once the issue is committed."""
    job_id = _job_id(context)
    settings = get_settings()
    told = (0, 0)
    async with _side() as side, open_engine() as engine:

        async def progress(done: int, total: int) -> None:
            nonlocal told
            told = (done, total)
            await repository.write_progress(side, job_id=job_id, done=done, total=total)

        async with AsyncSession(engine) as session, session.begin():
            summary = await billing_service.issue_period(
                session,
                period=parse_period(period),
                at=datetime.fromisoformat(at),
                issued_by=issued_by,
                grace_days=settings.billing.grace_days,
                payment_days=settings.billing.payment_days,
                zone_ids=[zone_id],
                force=force,
                progress=progress,
            )
        now = datetime.now(UTC)
        async with AsyncSession(engine) as session, session.begin():
            notices = await billing_service.queue_issue_notices(
                session,
                today=now.date(),
                reminder_days=settings.payments.reminder_days,
                now=now,
                billing=settings.billing,
            )
        # Sync psycopg, off the event loop (the worker's heartbeat goes on).
        sms = (
            await asyncio.to_thread(drain_outbox, notices.outbox_ids)
            if notices.outbox_ids
            else None
        )
        result = {
            "issued": summary.issued,
            "numbers": {country: list(pair) for country, pair in summary.numbers.items()},
            "sms_queued": len(notices.outbox_ids),
        }
        await repository.write_result(
            side, job_id=job_id, done=told[0], total=told[1], result=result
        )
    logger.info("issue %s zone %d (job %d): %s; SMS: %s", period, zone_id, job_id, result, sms)


async def import_meters(context: JobContext, import_id: int) -> None:
    """Register a checked meter file (``registry.imports``) in batches, one transaction each."""
    job_id = _job_id(context)
    created = existing = 0
    async with _side() as side, open_engine() as engine:
        async with AsyncSession(engine) as session:
            meters = await imports.load_import(session, import_id=import_id)
        total = len(meters)
        await repository.write_progress(side, job_id=job_id, done=0, total=total)
        for start in range(0, total, IMPORT_BATCH):
            async with AsyncSession(engine) as session, session.begin():
                batch = await registry_service.register_meters(
                    session, meters=meters[start : start + IMPORT_BATCH]
                )
            created += batch.created
            existing += batch.existing
            done = min(start + IMPORT_BATCH, total)
            await repository.write_progress(side, job_id=job_id, done=done, total=total)
        async with AsyncSession(engine) as session, session.begin():
            await imports.drop_import(session, import_id=import_id)
        result = {"created": created, "existing": existing}
        await repository.write_result(side, job_id=job_id, done=total, total=total, result=result)
    logger.info("meter import %d (job %d): %s", import_id, job_id, result)
