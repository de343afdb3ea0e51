"""``waterbill payments poll`` and ``waterbill bill remind``: the payments ledger's jobs."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Annotated

import typer

from core.config import get_settings

payments_app = typer.Typer(no_args_is_help=True, help="The payments ledger.")


@payments_app.command("poll")
def poll(
    limit: Annotated[int, typer.Option(min=1, help="Pending payments polled at most.")] = 500,
) -> None:
    """Ask Orange Money / MTN MoMo about pending payments whose callback has not come."""
    from billing.payments.clients import make_provider_clients
    from billing.payments.service import poll_pending
    from core.db import make_async_engine

    settings = get_settings()

    async def run() -> None:
        engine = make_async_engine(settings)
        try:
            result = await poll_pending(
                engine,
                clients=make_provider_clients(settings.payments),
                settings=settings.payments,
                now=datetime.now(UTC),
                limit=limit,
            )
        finally:
            await engine.dispose()
        typer.echo(
            f"polled {result.polled}: {result.succeeded} succeeded, {result.failed} failed,"
            f" {result.still_pending} still pending, {result.unreachable} unreachable;"
            f" {result.expired} expired"
        )

    asyncio.run(run())


def remind(
    today: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Run as of this day (default: today, UTC)."),
    ] = None,
) -> None:
    """Daily job: overdue marks and penalty proposals, credit to new invoices, billing SMS."""
    import psycopg
    from sqlalchemy.ext.asyncio import AsyncSession

    from billing.payments.service import ReminderRun, daily_reminders
    from core.db import make_async_engine
    from core.notifications import service as notifications
    from core.notifications.service import RetryPolicy
    from core.sms import make_sms_provider

    settings = get_settings()
    day: date = today.date() if today else datetime.now(UTC).date()

    async def run() -> ReminderRun:
        engine = make_async_engine(settings)
        try:
            async with AsyncSession(engine) as session, session.begin():
                return await daily_reminders(
                    session,
                    today=day,
                    reminder_days=settings.payments.reminder_days,
                    now=datetime.now(UTC),
                    billing=settings.billing,
                )
        finally:
            await engine.dispose()

    result = asyncio.run(run())
    with psycopg.connect(settings.dsn, autocommit=True) as conn:
        sms = notifications.drain(
            conn,
            provider=make_sms_provider(settings),
            policy=RetryPolicy.of(settings.sms),
            now=datetime.now(UTC),
        )
    typer.echo(
        f"{result.allocations} invoices paid from credit,"
        f" {result.penalties_proposed} penalties proposed;"
        f" SMS: {sms}, {result.notices.no_recipient} without a phone number"
    )
