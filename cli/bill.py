"""``waterbill bill``: close a period, issue its invoices, mark overdue ones, void one.

Each command is one transaction: it commits when the work is done, or changes nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import get_settings
from core.exceptions import AppError

if TYPE_CHECKING:
    from billing.close.service import CloseSummary
    from billing.invoices.service import IssueSummary

app = typer.Typer(no_args_is_help=True, help="Billing runs: close, issue, overdue, void.")

T = TypeVar("T")

PeriodOption = Annotated[str, typer.Option("--period", help="The month, YYYY-MM.")]
ZoneOption = Annotated[
    list[str] | None, typer.Option("--zone", help="Only this zone (by code); repeatable.")
]


def _run(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one transaction; an application error exits 1 with its message."""
    from core.db import make_async_engine

    async def main() -> T:
        engine = make_async_engine(get_settings())
        try:
            async with AsyncSession(engine, expire_on_commit=False) as session:
                async with session.begin():
                    return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except AppError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None


async def _zones(session: AsyncSession, codes: list[str] | None) -> list[int] | None:
    from billing.close.service import zone_ids_by_code

    return None if not codes else await zone_ids_by_code(session, codes)


@app.command()
def close(period: PeriodOption, zone: ZoneOption = None) -> None:
    """Draft the period's invoices (again): safe to run twice, or twice at once."""
    from billing.close.period import parse_period
    from billing.close.service import close_period

    async def work(session: AsyncSession) -> CloseSummary:
        return await close_period(
            session, period=parse_period(period), zone_ids=await _zones(session, zone)
        )

    started = time.perf_counter()
    summary = _run(work)
    typer.echo(
        f"{summary.label}: {summary.dwellings} dwellings, {summary.drafts} drafts"
        f" ({summary.subscription_only} subscription-only), {summary.held} held,"
        f" {summary.regularisations} regularisations pending"
        f" in {time.perf_counter() - started:.1f} s"
    )


@app.command()
def issue(
    period: PeriodOption,
    zone: ZoneOption = None,
    force: Annotated[
        bool, typer.Option(help="Issue before the grace for late readings is over.")
    ] = False,
) -> None:
    """Issue the period's drafts, numbered without gaps per country and year."""
    from billing import service as billing_service
    from billing.close.period import parse_period

    settings = get_settings()

    async def work(session: AsyncSession) -> IssueSummary:
        # Account credit pays the new invoices at once (their SMS go with `bill remind`).
        return await billing_service.issue_period(
            session,
            period=parse_period(period),
            at=datetime.now(UTC),
            issued_by=None,
            grace_days=settings.billing.grace_days,
            payment_days=settings.billing.payment_days,
            zone_ids=await _zones(session, zone),
            force=force,
        )

    summary = _run(work)
    numbers = ", ".join(f"{first}..{last}" for first, last in summary.numbers.values())
    typer.echo(f"{summary.issued} invoices issued" + (f": {numbers}" if numbers else ""))


@app.command()
def overdue(
    today: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Judge by this day (default: each country's)."),
    ] = None,
) -> None:
    """Mark issued invoices past their due date overdue (run daily)."""
    from billing.invoices import service as invoice_service

    day = today.date() if today else None
    count = _run(
        lambda session: invoice_service.mark_overdue(session, at=datetime.now(UTC), today=day)
    )
    typer.echo(f"{count} invoices overdue")


@app.command()
def void(
    invoice_id: Annotated[int, typer.Argument(help="The invoice's id.")],
    reason: Annotated[str, typer.Option(help="Why (kept on the invoice and in the audit).")],
    admin_id: Annotated[int, typer.Option(help="The administrator voiding it.")],
) -> None:
    """Void an issued, unpaid invoice."""
    from billing.invoices import service as invoice_service

    invoice = _run(
        lambda session: invoice_service.void_invoice(
            session, invoice_id=invoice_id, reason=reason, voided_by=admin_id
        )
    )
    typer.echo(f"invoice {invoice.number} void")
