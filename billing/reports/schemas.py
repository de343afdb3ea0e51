"""Report rows as the API answers them (JSON, or CSV through ``service.to_csv``). Amounts are
integers in minor units of ``currency``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class DwellingMonth:
    dwelling_id: int
    reference: str
    invoices: int
    volume_l: int
    billed_minor: int
    paid_minor: int
    unpaid_minor: int
    currency: str | None


@dataclass(frozen=True)
class Collection:
    currency: str
    invoices: int
    billed_minor: int
    collected_minor: int
    collection_rate: Decimal | None
    not_due_minor: int
    days_0_30_minor: int
    days_31_60_minor: int
    days_61_90_minor: int
    days_over_90_minor: int


@dataclass(frozen=True)
class RevenueMonth:
    month: date
    currency: str
    invoices: int
    net_minor: int
    vat_minor: int
    billed_minor: int
    penalties_minor: int
    collected_minor: int


@dataclass(frozen=True)
class LedgerLine:
    entry: str  # invoice, penalty or payment
    date: date
    journal: str
    document: str
    dwelling_id: int
    debit_account: str
    credit_account: str
    net: str
    vat_account: str
    vat: str
    amount: str
    currency: str
    method: str
