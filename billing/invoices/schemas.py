"""Invoices and their issue over HTTP. Amounts in major units as decimal strings with
their currency, as in ``billing.tariffs.schemas``; the minor units stored are exposed too."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from billing.close.schemas import CloseIn
from billing.invoices.models import (
    Invoice,
    InvoiceLineRow,
    InvoiceMeter,
    InvoiceStatus,
)
from billing.invoices.service import IssueSummary
from billing.tariffs.pricing import InvoiceKind
from core.money import Money, get_currency


class IssueIn(CloseIn):
    force: bool = Field(False, description="Issue before the grace for late readings is over.")


class OverdueIn(BaseModel):
    today: date | None = Field(None, description="The day to judge due dates by; today if absent.")


class VoidIn(BaseModel):
    reason: str = Field(min_length=3, max_length=2000, description="Why, for the audit trail.")


class IssueOut(BaseModel):
    issued: int
    numbers: dict[str, tuple[str, str]] = Field(
        description="Per country, the first and last number given."
    )

    @classmethod
    def of(cls, summary: IssueSummary) -> IssueOut:
        return cls(issued=summary.issued, numbers=summary.numbers)


class OverdueOut(BaseModel):
    overdue: int


class InvoiceLineOut(BaseModel):
    position: int
    kind: str
    amount: Decimal
    amount_minor: int
    block: int | None
    lower_l: int | None
    upper_l: int | None
    volume_l: int | None
    unit_price: Decimal | None
    vat_pct: Decimal | None


class InvoiceMeterOut(BaseModel):
    meter_id: int
    opening_at: datetime
    opening_index_l: int
    opening_estimated: bool
    closing_at: datetime
    closing_index_l: int
    closing_estimated: bool
    volume_l: int


class InvoiceOut(BaseModel):
    id: int
    number: str | None
    kind: InvoiceKind
    status: InvoiceStatus
    period_id: int
    dwelling_id: int
    customer_id: int | None
    corrects_invoice_id: int | None
    currency: str
    period_days: int
    volume_l: int
    estimated: bool
    net: Decimal
    vat: Decimal
    total: Decimal
    total_minor: int
    paid_minor: int
    issue_date: date | None
    due_date: date | None
    void_reason: str | None

    @classmethod
    def of(cls, invoice: Invoice) -> InvoiceOut:
        currency = get_currency(invoice.currency)

        def major(minor: int) -> Decimal:
            return Money.from_minor(minor, currency).amount

        return cls(
            id=invoice.id,
            number=invoice.number,
            kind=invoice.kind,
            status=invoice.status,
            period_id=invoice.period_id,
            dwelling_id=invoice.dwelling_id,
            customer_id=invoice.customer_id,
            corrects_invoice_id=invoice.corrects_invoice_id,
            currency=invoice.currency,
            period_days=invoice.period_days,
            volume_l=invoice.volume_l,
            estimated=invoice.estimated,
            net=major(invoice.net_minor),
            vat=major(invoice.vat_minor),
            total=major(invoice.total_minor),
            total_minor=invoice.total_minor,
            paid_minor=invoice.paid_minor,
            issue_date=invoice.issue_date,
            due_date=invoice.due_date,
            void_reason=invoice.void_reason,
        )


class InvoiceListOut(InvoiceOut):
    """An invoice as lists show it: with the period and dwelling a reader knows it by."""

    period_label: str = Field(description="YYYY-MM for a monthly period.")
    period_start: date
    period_end: date
    dwelling_reference: str
    penalty_minor: int = Field(description="An approved late penalty, owed with the total.")
    owed_minor: int = Field(description="Still to pay: total plus penalty, less what is paid.")

    @classmethod
    def listed(
        cls,
        invoice: Invoice,
        *,
        period: tuple[str, date, date],
        dwelling_reference: str,
        penalty_minor: int,
    ) -> InvoiceListOut:
        label, start, end = period
        settled = invoice.status in (InvoiceStatus.VOID, InvoiceStatus.DRAFT)
        return cls(
            **InvoiceOut.of(invoice).model_dump(),
            period_label=label,
            period_start=start,
            period_end=end,
            dwelling_reference=dwelling_reference,
            penalty_minor=penalty_minor,
            owed_minor=0
            if settled
            else max(0, invoice.total_minor + penalty_minor - invoice.paid_minor),
        )


class InvoiceDetailOut(InvoiceOut):
    lines: list[InvoiceLineOut]
    meters: list[InvoiceMeterOut]
    approved_by: list[int] = Field(description="Administrators who approved (regularisations).")

    @classmethod
    def detail(cls, invoice: Invoice, *, approved_by: list[int]) -> InvoiceDetailOut:
        currency = get_currency(invoice.currency)
        return cls(
            **InvoiceOut.of(invoice).model_dump(),
            lines=[_line(row, currency.code) for row in invoice.lines],
            meters=[_meter(row) for row in invoice.meters],
            approved_by=approved_by,
        )


def _line(row: InvoiceLineRow, currency: str) -> InvoiceLineOut:
    return InvoiceLineOut(
        position=row.position,
        kind=row.kind,
        amount=Money.from_minor(row.amount_minor, get_currency(currency)).amount,
        amount_minor=row.amount_minor,
        block=row.block,
        lower_l=row.lower_l,
        upper_l=row.upper_l,
        volume_l=row.volume_l,
        unit_price=row.unit_price,
        vat_pct=row.vat_pct,
    )


def _meter(row: InvoiceMeter) -> InvoiceMeterOut:
    return InvoiceMeterOut(
        meter_id=row.meter_id,
        opening_at=row.opening_at,
        opening_index_l=row.opening_index_l,
        opening_estimated=row.opening_estimated,
        closing_at=row.closing_at,
        closing_index_l=row.closing_index_l,
        closing_estimated=row.closing_estimated,
        volume_l=row.volume_l,
    )
