"""What a close writes: the drafts of billable dwellings, and regularisation drafts where the
figures changed under an issued invoice (difference lines, key by key)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from billing.close.measure import MeasuredDwelling, meter_volume
from billing.close.period import Period
from billing.close.repository import BilledLine, CloseRepository, MeterBoundary
from billing.tariffs.pricing import InvoiceComputation, InvoiceLine, LineKind
from core.money import Money


async def write_drafts(
    repo: CloseRepository,
    *,
    period_id: int,
    period: Period,
    billable: dict[int, tuple[MeterBoundary, InvoiceComputation, int]],
    dwellings: dict[int, MeasuredDwelling],
) -> dict[int, int]:
    """Upsert the drafts and their content; returns dwelling -> draft id (issued ones absent)."""
    rows = [
        (
            dwelling_id,
            computation.kind.value,
            first.country_code,
            computation.currency.code,
            tariff_id,
            first.dwelling_type,
            computation.volume_l,
            dwellings[dwelling_id].estimated,
            *_net_and_vat(computation.lines),
        )
        for dwelling_id, (first, computation, tariff_id) in billable.items()
    ]
    written = await repo.upsert_invoices(
        period_id=period_id, end=period.end, days=period.days, rows=rows
    )
    await repo.replace_content(
        list(written.values()),
        lines=_line_rows((invoice_id, billable[d][1].lines) for d, invoice_id in written.items()),
        meters=_meter_rows((invoice_id, dwellings[d].meters) for d, invoice_id in written.items()),
    )
    return written


async def regularise(
    repo: CloseRepository,
    *,
    period_id: int,
    dwellings: dict[int, MeasuredDwelling],
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
        net, vat = _net_and_vat(differences)
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
        lines=_line_rows((r, lines_of[r]) for r in reg_ids.values()),
        meters=_meter_rows((reg_ids[d], dwellings[d].meters) for d in reg_ids),
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


def _net_and_vat(lines: Iterable[InvoiceLine]) -> tuple[int, int]:
    """Net and VAT in minor units (integer sums: cheaper than ``Money`` sums, and exact)."""
    net = vat = 0
    for line in lines:
        if line.kind is LineKind.VAT:
            vat += line.amount.to_minor()
        else:
            net += line.amount.to_minor()
    return net, vat


def _line_rows(items: Iterable[tuple[int, Sequence[InvoiceLine]]]) -> list[tuple[Any, ...]]:
    """Rows in ``queries.LINE_COLUMNS`` order."""
    return [
        (
            invoice_id,
            position,
            line.kind.value,
            line.amount.to_minor(),
            line.block,
            line.lower_l,
            line.upper_l,
            line.volume_l,
            line.unit_price,
            line.vat_pct,
        )
        for invoice_id, lines in items
        for position, line in enumerate(lines, start=1)
    ]


def _meter_rows(items: Iterable[tuple[int, Sequence[MeterBoundary]]]) -> list[tuple[Any, ...]]:
    """Rows in ``queries.METER_COLUMNS`` order."""
    return [
        (
            invoice_id,
            meter.meter_id,
            meter.opening_at,
            meter.opening_index,
            bool(meter.opening_estimated),
            meter.closing_at,
            meter.closing_index,
            bool(meter.closing_estimated),
            meter_volume(meter),
        )
        for invoice_id, meters in items
        for meter in meters
    ]
