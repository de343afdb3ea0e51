"""Late data finds its invoice: readings that arrive after a month's invoices were computed
re-close the zones they touch, so an issued invoice whose figures change gets its
regularisation draft, awaiting two administrators (``billing.close.service``).

Each month keeps a watermark (``billing_period.late_checked_at``): a reading counts as late when
it was received after both its invoice's computation and the watermark. Re-closing is
idempotent (one pending regularisation per invoice, rewritten in place), so a run repeated, or
a crash between a re-close and the watermark, never proposes twice.

Services never commit: the caller owns the transaction (one per re-closed month is best: each
holds its month's lock).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from billing.close.period import Period, parse_period
from billing.close.repository import CloseRepository
from billing.close.service import CloseSummary, close_period


@dataclass(frozen=True)
class LateMonth:
    period: Period
    zone_ids: list[int]


async def late_months(
    session: AsyncSession, *, until: datetime, oldest: date, margin_days: int
) -> list[LateMonth]:
    """Issued months ending on or after ``oldest`` with readings received late, up to
    ``until``, with the zones those readings are in."""
    zones: dict[str, list[int]] = defaultdict(list)
    repo = CloseRepository(session)
    for label, zone_id in await repo.late_zones(
        until=until, oldest=oldest, margin_days=margin_days
    ):
        zones[label].append(zone_id)
    return [LateMonth(parse_period(label), ids) for label, ids in zones.items()]


async def reclose(session: AsyncSession, *, month: LateMonth) -> CloseSummary:
    """Close the month's late zones again: changed issued figures become regularisations."""
    return await close_period(session, period=month.period, zone_ids=month.zone_ids)


async def mark_checked(session: AsyncSession, *, until: datetime, oldest: date) -> None:
    """Every issued month from ``oldest`` on was looked at for readings received to ``until``."""
    await CloseRepository(session).mark_late_checked(until=until, oldest=oldest)
