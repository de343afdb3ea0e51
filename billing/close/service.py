"""Closing a billing period: draft invoices for every billable dwelling, from the rollups.

Rules:

- **Billable**: a dwelling with a meter in service during the period (in the zones asked for).
- **Boundaries** are the local midnights opening the first day and ending the last day, in the
  dwelling's time zone (its zone's, else its country's). The index there comes from
  ``meter_hourly`` (telemetry and manual reads alike): read when a reading fell on the boundary,
  else interpolated linearly between the readings around it and marked *estimated*.
- **Replacement**: every meter in service during the period counts from its opening (the
  boundary, or its installation at its initial index) to its closing (the boundary, or its
  removal); the dwelling's volume is the sum.
- **Rollover**: a closing index below the opening one is a register wrap when the wrapped
  volume is under half the register (the rollups' rule); otherwise the register went back.
- **Holds** (``billing_hold``, for review instead of billing): a tamper incident during the
  period; a register that went back (negative step, waiting for validation); no reading at or
  after a boundary yet; readings not yet rolled up; no tariff in force. A held dwelling's draft
  is removed; the hold is lifted by a later close once its cause is gone, or (tamper only) by an
  administrator who reviewed the register.
- **Kinds**: periodic; subscription-only for a vacant dwelling that consumed nothing; when an
  issued invoice's figures change (late data, a corrected read) a *regularisation* draft is
  written with the difference lines, for two administrators to approve
  (``billing.invoices.service``).
- **Idempotent**: drafts are upserted on (dwelling, period) and the run holds the period's
  lock (a zone's, when closing some zones: zones close side by side on several workers), so
  closing twice, or twice at once, leaves one set of invoices.

The tariff is the zone's version in force on the period's last day. Holds are reviewed here
too: an administrator releases a tamper hold once the register was checked.

Services never commit: the caller owns the transaction.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from billing.close.drafts import regularise, write_drafts
from billing.close.exceptions import HoldNotFound, HoldNotReleasable
from billing.close.measure import measure
from billing.close.models import BillingHold, HoldReason
from billing.close.period import Period
from billing.close.repository import CloseRepository, MeterBoundary
from billing.tariffs import service as tariff_service
from billing.tariffs.exceptions import UnknownZone
from billing.tariffs.pricing import InvoiceComputation, InvoiceKind, compute_invoices
from registry.models import DwellingType

logger = logging.getLogger(__name__)


# Told (dwellings done, total) as a close goes: after measuring, after each tariff's pricing
# batch, at the end. A job shows it; it must not touch the close's transaction.
Progress = Callable[[int, int], Awaitable[None]]


@dataclass(frozen=True)
class CloseSummary:
    period_id: int
    label: str
    dwellings: int
    drafts: int
    subscription_only: int
    held: int
    regularisations: int


async def close_period(
    session: AsyncSession,
    *,
    period: Period,
    zone_ids: Sequence[int] | None = None,
    progress: Progress | None = None,
) -> CloseSummary:
    """Draft (or re-draft) the invoices of ``period``; see the module docstring.

    Runs in the caller's transaction, which should commit once (the period lock is held until
    then).
    """
    repo = CloseRepository(session)
    await check_zones(session, zone_ids)
    period_id = await repo.lock_period(
        label=period.label, start=period.start, end=period.end, zone_ids=zone_ids
    )
    meters = await repo.meters(start=period.start, end=period.end, zone_ids=zone_ids)
    released = await repo.released_tamper(period_id)
    tariffs = await tariff_service.tariffs_in_force_by_zone(session, on=period.end)
    priced = {zone_id: tariff_service.as_tariff(v) for zone_id, v in tariffs.items()}

    dwellings = measure(meters, released_tamper=released)
    done, total = 0, len(dwellings)
    if progress:
        await progress(done, total)
    # Dwellings to price, by the tariff version of their zone (one batch per version).
    by_tariff: dict[int, list[int]] = defaultdict(list)
    for dwelling_id, measured in dwellings.items():
        zone_id = measured.meters[0].zone_id
        if zone_id not in priced:
            measured.holds.append(
                (None, HoldReason.NO_TARIFF, f"no tariff in force on {period.end}")
            )
        if not measured.holds:
            by_tariff[tariffs[zone_id].id].append(dwelling_id)
    billable: dict[int, tuple[MeterBoundary, InvoiceComputation, int]] = {}
    for tariff_id, members in by_tariff.items():
        firsts = [dwellings[d].meters[0] for d in members]
        computations = compute_invoices(
            priced[firsts[0].zone_id],
            period_days=period.days,
            requests=[
                (dwellings[d].volume_l, DwellingType(f.dwelling_type), f.vacant)
                for d, f in zip(members, firsts, strict=True)
            ],
        )
        for dwelling_id, first, computation in zip(members, firsts, computations, strict=True):
            billable[dwelling_id] = (first, computation, tariff_id)
        done += len(members)
        if progress:
            await progress(done, total)

    written = await write_drafts(
        repo, period_id=period_id, period=period, billable=billable, dwellings=dwellings
    )
    issued = [d for d in billable if d not in written]
    regularisations = await regularise(
        repo, period_id=period_id, dwellings=dwellings, billable=billable, issued=issued
    )
    held = [d for d, m in dwellings.items() if m.holds]
    await repo.delete_drafts(period_id=period_id, dwelling_ids=held)
    holds = [(d, *h) for d, m in dwellings.items() for h in m.holds]
    await repo.write_holds(
        period_id=period_id,
        evaluated=list(dwellings),
        dwelling_ids=[h[0] for h in holds],
        meter_ids=[h[1] for h in holds],
        reasons=[h[2].value for h in holds],
        details=[h[3] for h in holds],
    )
    await repo.mark_closed(period_id)
    if progress:
        await progress(total, total)
    summary = CloseSummary(
        period_id=period_id,
        label=period.label,
        dwellings=len(dwellings),
        drafts=len(written),
        subscription_only=sum(
            1 for d in written if billable[d][1].kind is InvoiceKind.SUBSCRIPTION_ONLY
        ),
        held=len(held),
        regularisations=regularisations,
    )
    logger.info("closed %s: %s", period.label, summary)
    return summary


async def zone_ids_by_code(session: AsyncSession, codes: Sequence[str]) -> list[int]:
    """The ids of zones named by code (as operators type them), refusing unknown codes."""
    found = await CloseRepository(session).zone_ids_by_code(codes)
    missing = [c for c in codes if c not in found]
    if missing:
        raise UnknownZone(f"zones {', '.join(missing)} do not exist")
    return [found[c] for c in codes]


async def zones_to_close(session: AsyncSession, zone_ids: Sequence[int] | None) -> list[int]:
    """The zones a close runs over: those asked for (refusing unknown ones), else every zone."""
    if zone_ids is not None:
        await check_zones(session, zone_ids)
        return sorted(set(zone_ids))
    return await CloseRepository(session).all_zone_ids()


async def check_zones(session: AsyncSession, zone_ids: Sequence[int] | None) -> None:
    """Refuse zone ids that do not exist, by name, rather than closing nothing for them."""
    if zone_ids is None:
        return
    known = await CloseRepository(session).known_zone_ids(zone_ids)
    missing = sorted(set(zone_ids) - known)
    if missing:
        raise UnknownZone(f"zones {', '.join(map(str, missing))} do not exist")


async def release_hold(session: AsyncSession, *, hold_id: int, admin_id: int) -> BillingHold:
    """An administrator reviewed a tampered register and lets the next close bill it.

    Raises:
        HoldNotReleasable: other holds lift themselves when data arrives or is corrected.
    """
    repo = CloseRepository(session)
    hold = await repo.lock_hold(hold_id)
    if hold is None:
        raise HoldNotFound(f"billing hold {hold_id} does not exist")
    if hold.reason is not HoldReason.TAMPER:
        raise HoldNotReleasable(
            f"hold {hold_id} ({hold.reason.value}) lifts itself at the next close once the"
            " readings are there and valid; only a tamper hold is released by review"
        )
    if hold.released_at is not None:
        raise HoldNotReleasable(f"hold {hold_id} is already released")
    return await repo.release_hold(hold, admin_id=admin_id)


async def open_holds(
    session: AsyncSession, *, period_id: int | None = None
) -> Sequence[BillingHold]:
    """Holds not released yet, oldest first (of one period, or of all)."""
    return await CloseRepository(session).open_holds(period_id=period_id)
