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
  written with the difference lines, for two administrators to approve (``billing.invoicing``).
- **Idempotent**: drafts are upserted on (dwelling, period) and the period row is locked for
  the run, so closing twice, or twice at once, leaves one set of invoices.

The tariff is the zone's version in force on the period's last day.
"""

from __future__ import annotations

import calendar
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billing import service as tariff_service
from billing.close_repository import BilledLine, CloseRepository, MeterBoundary
from billing.exceptions import InvalidPeriod, UnknownZone
from billing.models import HoldReason
from billing.tariffs import InvoiceComputation, InvoiceLine, LineKind, compute_invoice
from billing.tariffs import InvoiceKind as TariffInvoiceKind
from core.models import DwellingType, Zone
from core.money import Money

logger = logging.getLogger(__name__)

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Period:
    label: str
    start: date
    end: date  # last day included

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def parse_period(label: str) -> Period:
    """``YYYY-MM`` as the calendar month it names."""
    match = _MONTH.match(label)
    if match is None:
        raise InvalidPeriod(f"period {label!r} is not YYYY-MM")
    year, month = int(match[1]), int(match[2])
    if not 1 <= month <= 12 or year < 2000:
        raise InvalidPeriod(f"period {label!r} is not a month (YYYY-MM, from 2000)")
    last_day = calendar.monthrange(year, month)[1]
    return Period(label, date(year, month, 1), date(year, month, last_day))


@dataclass(frozen=True)
class CloseSummary:
    period_id: int
    label: str
    dwellings: int
    drafts: int
    subscription_only: int
    held: int
    regularisations: int


@dataclass
class _Dwelling:
    meters: list[MeterBoundary]
    holds: list[tuple[int | None, HoldReason, str]]
    volume_l: int = 0
    estimated: bool = False


async def close_period(
    session: AsyncSession, *, period: Period, zone_ids: Sequence[int] | None = None
) -> CloseSummary:
    """Draft (or re-draft) the invoices of ``period``; see the module docstring.

    Runs in the caller's transaction, which should commit once (the period lock is held until
    then).
    """
    repo = CloseRepository(session)
    await check_zones(session, zone_ids)
    period_id = await repo.lock_period(label=period.label, start=period.start, end=period.end)
    meters = await repo.meters(start=period.start, end=period.end, zone_ids=zone_ids)
    released = await repo.released_tamper(period_id)
    tariffs = await tariff_service.tariffs_in_force_by_zone(session, on=period.end)
    priced = {zone_id: tariff_service.as_tariff(v) for zone_id, v in tariffs.items()}

    dwellings = _measure(meters, released_tamper=released)
    billable: dict[int, tuple[MeterBoundary, InvoiceComputation, int]] = {}
    for dwelling_id, measured in dwellings.items():
        first = measured.meters[0]
        if first.zone_id not in priced:
            measured.holds.append(
                (None, HoldReason.NO_TARIFF, f"no tariff in force on {period.end}")
            )
        if measured.holds:
            continue
        computation = compute_invoice(
            priced[first.zone_id],
            volume_l=measured.volume_l,
            period_days=period.days,
            dwelling_type=DwellingType(first.dwelling_type),
            vacant=first.vacant,
        )
        billable[dwelling_id] = (first, computation, tariffs[first.zone_id].id)

    written = await _write_drafts(
        repo, period_id=period_id, period=period, billable=billable, dwellings=dwellings
    )
    issued = [d for d in billable if d not in written]
    regularisations = await _regularise(
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
    summary = CloseSummary(
        period_id=period_id,
        label=period.label,
        dwellings=len(dwellings),
        drafts=len(written),
        subscription_only=sum(
            1 for d in written if billable[d][1].kind is TariffInvoiceKind.SUBSCRIPTION_ONLY
        ),
        held=len(held),
        regularisations=regularisations,
    )
    logger.info("closed %s: %s", period.label, summary)
    return summary


async def check_zones(session: AsyncSession, zone_ids: Sequence[int] | None) -> None:
    """Refuse zone ids that do not exist, by name, rather than closing nothing for them."""
    if zone_ids is None:
        return
    known = set(await session.scalars(select(Zone.id).where(Zone.id.in_(list(zone_ids)))))
    missing = sorted(set(zone_ids) - known)
    if missing:
        raise UnknownZone(f"zones {', '.join(map(str, missing))} do not exist")


def _measure(meters: Iterable[MeterBoundary], *, released_tamper: set[int]) -> dict[int, _Dwelling]:
    """Group meters by dwelling: summed volume, estimated flag, and reasons to hold."""
    dwellings: dict[int, _Dwelling] = {}
    for meter in meters:
        measured = dwellings.setdefault(meter.dwelling_id, _Dwelling(meters=[], holds=[]))
        measured.meters.append(meter)
        for reason, detail in _hold_reasons(meter, released_tamper=released_tamper):
            measured.holds.append((meter.meter_id, reason, detail))
        volume = meter_volume(meter)
        if volume is not None:
            measured.volume_l += volume
        measured.estimated |= bool(meter.opening_estimated) or bool(meter.closing_estimated)
    return dwellings


def meter_volume(meter: MeterBoundary) -> int | None:
    """Closing minus opening index, across a register wrap; None when unknown or negative."""
    if meter.opening_index is None or meter.closing_index is None:
        return None
    step = meter.closing_index - meter.opening_index
    if step >= 0:
        return step
    if step + meter.modulus < meter.modulus // 2:
        return step + meter.modulus
    return None


def _hold_reasons(
    meter: MeterBoundary, *, released_tamper: set[int]
) -> Iterable[tuple[HoldReason, str]]:
    if meter.tamper and meter.dwelling_id not in released_tamper:
        yield HoldReason.TAMPER, f"meter {meter.meter_id}: tamper alarm during the period"
    if meter.rollup_pending:
        yield HoldReason.ROLLUP_PENDING, f"meter {meter.meter_id}: readings not rolled up yet"
    if meter.opening_index is None or meter.closing_index is None:
        which = "opening" if meter.opening_index is None else "closing"
        yield (
            HoldReason.MISSING_READING,
            f"meter {meter.meter_id}: no reading at or after the {which} boundary",
        )
    elif meter.negative_step or meter_volume(meter) is None:
        yield (
            HoldReason.NEGATIVE_STEP,
            f"meter {meter.meter_id}: the register went back during the period",
        )


async def _write_drafts(
    repo: CloseRepository,
    *,
    period_id: int,
    period: Period,
    billable: dict[int, tuple[MeterBoundary, InvoiceComputation, int]],
    dwellings: dict[int, _Dwelling],
) -> dict[int, int]:
    """Upsert the drafts and their content; returns dwelling -> draft id (issued ones absent)."""
    ids = list(billable)
    computations = [billable[d][1] for d in ids]
    written = await repo.upsert_invoices(
        period_id=period_id,
        end=period.end,
        days=period.days,
        dwelling_ids=ids,
        kinds=[c.kind.value for c in computations],
        countries=[billable[d][0].country_code for d in ids],
        currencies=[c.currency.code for c in computations],
        tariffs=[billable[d][2] for d in ids],
        types=[billable[d][0].dwelling_type for d in ids],
        volumes=[c.volume_l for c in computations],
        estimated=[dwellings[d].estimated for d in ids],
        nets=[c.net.to_minor() for c in computations],
        vats=[c.vat.to_minor() for c in computations],
    )
    await repo.replace_content(
        list(written.values()),
        lines=_line_arrays((written[d], billable[d][1].lines) for d in ids if d in written),
        meters=_meter_arrays((written[d], dwellings[d].meters) for d in ids if d in written),
    )
    return written


async def _regularise(
    repo: CloseRepository,
    *,
    period_id: int,
    dwellings: dict[int, _Dwelling],
    billable: dict[int, tuple[MeterBoundary, InvoiceComputation, int]],
    issued: list[int],
) -> int:
    """Regularisation drafts where the figures differ from what issued documents charge."""
    if not issued:
        return 0
    originals = await repo.original_invoices(period_id=period_id, dwelling_ids=issued)
    billed: dict[int, list[BilledLine]] = defaultdict(list)
    for line in await repo.billed(period_id=period_id, dwelling_ids=issued):
        billed[line.dwelling_id].append(line)
    settled: list[int] = []
    reg_ids: dict[int, int] = {}
    lines_of: dict[int, list[InvoiceLine]] = {}
    for dwelling_id in issued:
        original_id = originals[dwelling_id][0]
        computation = billable[dwelling_id][1]
        differences = difference_lines(computation, billed[dwelling_id])
        if not differences:
            settled.append(original_id)
            continue
        billed_volume = sum(
            b.volume_l or 0 for b in billed[dwelling_id] if b.kind == LineKind.CONSUMPTION
        )
        vat = sum(ln.amount.to_minor() for ln in differences if ln.kind is LineKind.VAT)
        net = sum(ln.amount.to_minor() for ln in differences) - vat
        reg_id = await repo.upsert_regularisation(
            original_id=original_id,
            volume_l=computation.volume_l - billed_volume,
            estimated=dwellings[dwelling_id].estimated,
            net_minor=net,
            vat_minor=vat,
        )
        reg_ids[dwelling_id] = reg_id
        lines_of[reg_id] = differences
    await repo.drop_regularisations(settled)
    await repo.replace_content(
        list(reg_ids.values()),
        lines=_line_arrays((r, lines_of[r]) for r in reg_ids.values()),
        meters=_meter_arrays((reg_ids[d], dwellings[d].meters) for d in reg_ids),
    )
    return len(reg_ids)


def difference_lines(
    computation: InvoiceComputation, billed: Sequence[BilledLine]
) -> list[InvoiceLine]:
    """The lines that take what was billed to what ``computation`` charges, key by key (line
    kind and block); lines that do not change are left out, so they add up to the difference
    of the totals."""
    currency = computation.currency
    before = {(b.kind, b.block): b for b in billed}
    keys = [(ln.kind.value, ln.block) for ln in computation.lines]
    keys += [k for k in before if k not in keys]
    after = {(ln.kind.value, ln.block): ln for ln in computation.lines}
    out: list[InvoiceLine] = []
    for key in keys:
        new, old = after.get(key), before.get(key)
        amount = (new.amount.to_minor() if new else 0) - (old.amount_minor if old else 0)
        volume = ((new.volume_l or 0) if new else 0) - ((old.volume_l or 0) if old else 0)
        if amount == 0 and volume == 0:
            continue
        ref: Any = new if new is not None else old
        out.append(
            InvoiceLine(
                kind=LineKind(key[0]),
                amount=Money.from_minor(amount, currency),
                block=key[1],
                lower_l=ref.lower_l,
                upper_l=ref.upper_l,
                volume_l=volume if key[0] == LineKind.CONSUMPTION else None,
                unit_price=ref.unit_price,
                vat_pct=ref.vat_pct,
            )
        )
    return out


def _line_arrays(items: Iterable[tuple[int, Sequence[InvoiceLine]]]) -> dict[str, list[Any]]:
    arrays: dict[str, list[Any]] = {
        k: []
        for k in (
            "invoice_ids",
            "positions",
            "kinds",
            "amounts",
            "blocks",
            "lowers",
            "uppers",
            "volumes",
            "prices",
            "vat_pcts",
        )
    }
    for invoice_id, lines in items:
        for position, line in enumerate(lines, start=1):
            arrays["invoice_ids"].append(invoice_id)
            arrays["positions"].append(position)
            arrays["kinds"].append(line.kind.value)
            arrays["amounts"].append(line.amount.to_minor())
            arrays["blocks"].append(line.block)
            arrays["lowers"].append(line.lower_l)
            arrays["uppers"].append(line.upper_l)
            arrays["volumes"].append(line.volume_l)
            arrays["prices"].append(line.unit_price)
            arrays["vat_pcts"].append(line.vat_pct)
    return arrays


def _meter_arrays(items: Iterable[tuple[int, Sequence[MeterBoundary]]]) -> dict[str, list[Any]]:
    arrays: dict[str, list[Any]] = {
        k: []
        for k in (
            "invoice_ids",
            "meter_ids",
            "opening_at",
            "opening_index",
            "opening_estimated",
            "closing_at",
            "closing_index",
            "closing_estimated",
            "volumes",
        )
    }
    for invoice_id, meters in items:
        for meter in meters:
            arrays["invoice_ids"].append(invoice_id)
            arrays["meter_ids"].append(meter.meter_id)
            arrays["opening_at"].append(meter.opening_at)
            arrays["opening_index"].append(meter.opening_index)
            arrays["opening_estimated"].append(bool(meter.opening_estimated))
            arrays["closing_at"].append(meter.closing_at)
            arrays["closing_index"].append(meter.closing_index)
            arrays["closing_estimated"].append(bool(meter.closing_estimated))
            arrays["volumes"].append(meter_volume(meter))
    return arrays
