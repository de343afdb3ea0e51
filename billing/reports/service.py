"""Reports and the accounting export: one set-based query each, scoped to buildings.

``building_ids`` is the caller's reach: a list of building ids, or ``None`` for everything
(administrators). Amounts are integers in minor units, grouped per currency (a report over
Cameroon and Papua New Guinea never adds francs to kina). What an invoice owes is its total
plus an approved late penalty; draft and void invoices are in no figure.

Definitions:

- *Monthly report of a building*: invoices of the billing periods starting in that month, per
  dwelling (every dwelling of the building, with zeros when it has none): volume, billed,
  paid (allocated so far), unpaid.
- *Collection rate*: of what invoices issued in ``[start, end]`` owe, the share allocated by the
  end of ``as_of``. *Ageing*: what is unpaid at ``as_of`` by days past the due date: not yet
  due, 0–30, 31–60, 61–90, over 90.
- *Revenue per month*: invoices by their issue month (net, VAT, total, approved penalties by
  their decision month) and cash in by the local month a payment was received.
- *Accounting export*: one line per issued invoice (debit receivables, credit revenue and VAT),
  per approved penalty (credit penalty income) and per succeeded payment (debit the method's
  treasury account, credit receivables), with the account codes of the settings.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import asdict, fields
from datetime import date
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from sqlalchemy.ext.asyncio import AsyncSession

from billing.reports.exceptions import InvalidReport
from billing.reports.repository import ReportRepository
from billing.reports.schemas import Collection, DwellingMonth, LedgerLine, RevenueMonth
from core.config_billing import AccountingSettings
from core.money import get_currency


async def building_month(
    session: AsyncSession, *, building_id: int, month: date
) -> list[DwellingMonth]:
    """Per dwelling of a building: the invoices of the periods starting in ``month``."""
    return await ReportRepository(session).building_month(
        building_id=building_id, month=month.replace(day=1)
    )


async def collection(
    session: AsyncSession,
    *,
    building_ids: Sequence[int] | None,
    start: date,
    end: date,
    as_of: date,
) -> list[Collection]:
    """Collection rate and unpaid ageing per currency (module docstring)."""
    if end < start:
        raise InvalidReport(f"end {end} is before start {start}")
    return await ReportRepository(session).collection(
        building_ids=building_ids, start=start, end=end, as_of=as_of
    )


async def revenue(
    session: AsyncSession, *, building_ids: Sequence[int] | None, start: date, end: date
) -> list[RevenueMonth]:
    """Per month from ``start``'s month to ``end``'s, and per currency (module docstring)."""
    first = start.replace(day=1)
    stop = _next_month(end.replace(day=1))
    if stop <= first:
        raise InvalidReport(f"end {end} is before start {start}")
    return await ReportRepository(session).revenue(
        building_ids=building_ids, start=first, stop=stop
    )


async def accounting_export(
    session: AsyncSession,
    *,
    building_ids: Sequence[int] | None,
    start: date,
    end: date,
    accounts: AccountingSettings,
) -> list[LedgerLine]:
    """The journal lines of ``[start, end]`` (module docstring)."""
    if end < start:
        raise InvalidReport(f"end {end} is before start {start}")
    rows = await ReportRepository(session).ledger_entries(
        building_ids=building_ids, start=start, end=end
    )
    treasury = {
        "cash": accounts.cash_account,
        "bank_transfer": accounts.bank_account,
        "card": accounts.bank_account,
        "orange_money": accounts.mobile_money_account,
        "mtn_momo": accounts.mobile_money_account,
        "cellmoni": accounts.mobile_money_account,
    }
    # entry -> (journal, credit account); the debit is receivables except for payments.
    rules = {
        "invoice": (accounts.journal_sales, accounts.revenue_account),
        "penalty": (accounts.journal_sales, accounts.penalty_account),
        "payment": (accounts.journal_receipts, accounts.receivable_account),
    }
    places: dict[str, int] = {}
    lines = []
    for r in rows:
        if r.currency not in places:
            places[r.currency] = get_currency(r.currency).minor_units
        exponent = -places[r.currency]
        journal, credit = rules[r.entry]
        lines.append(
            LedgerLine(
                entry=r.entry,
                date=r.date,
                journal=journal,
                document=r.document,
                dwelling_id=r.dwelling_id,
                debit_account=(
                    treasury[r.method] if r.entry == "payment" else accounts.receivable_account
                ),
                credit_account=credit,
                net=f"{Decimal(r.net_minor).scaleb(exponent):f}",
                vat_account=accounts.vat_account if r.entry == "invoice" else "",
                vat=f"{Decimal(r.vat_minor).scaleb(exponent):f}",
                amount=f"{Decimal(r.amount_minor).scaleb(exponent):f}",
                currency=r.currency,
                method=r.method or "",
            )
        )
    return lines


def to_csv(rows: Sequence[Any], row_type: type[Any]) -> str:
    """Dataclass rows as CSV with a header line (the header even when there are no rows)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[f.name for f in fields(row_type)])
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in asdict(row).items()})
    return out.getvalue()


def ledger_xml(lines: Sequence[LedgerLine], *, start: date, end: date) -> bytes:
    """The accounting export as XML: ``<accounting-export><entry><entry>invoice</entry>...``.

    Written as text with escaped values (no element tree): an export of a year holds hundreds
    of thousands of values, and building a tree for them costs five times as much.
    """
    tags = [(f.name, f.name.replace("_", "-")) for f in fields(LedgerLine)]
    out = [
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<accounting-export from="{start.isoformat()}" to="{end.isoformat()}">'
    ]
    for line in lines:
        values = line.__dict__
        out.append(
            "<entry>"
            + "".join(f"<{tag}>{escape(str(values[name]))}</{tag}>" for name, tag in tags)
            + "</entry>"
        )
    out.append("</accounting-export>")
    return "".join(out).encode()


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)
