"""Tariffs over HTTP: tariff versions in and out, invoice quotes.

Amounts travel in major units as decimal strings ("12.50", "500") with their currency; they are
stored in minor units. Prices per m³ and percentages travel as decimal strings too.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from billing.tariffs.models import TariffVersion
from billing.tariffs.pricing import Block, InvoiceComputation, InvoiceKind, LineKind
from billing.tariffs.service import TariffDraft
from core.money import Money, get_currency
from core.orm import MAX_ID
from registry.models import DwellingType


class BlockIn(BaseModel):
    upper_m3: Decimal | None = Field(
        description="Inclusive upper bound for 30 days, in m³ (litre precision); null on the"
        " last, open-ended block."
    )
    price_per_m3: Decimal = Field(description="Price per m³ in major units (1.50, 365).")


class TariffIn(BaseModel):
    country_code: str = Field(min_length=2, max_length=2, description="ISO country code.")
    zone_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="The zone; null for the country-wide tariff."
    )
    effective_from: date = Field(description="First day the version prices consumption.")
    blocks: list[BlockIn] = Field(min_length=1, max_length=20)
    subscriptions: dict[DwellingType, Decimal] = Field(
        description="Monthly subscription per dwelling type, in major units."
    )
    service_fee: Decimal = Field(description="Per invoice, in major units.")
    vat_pct: Decimal = Field(description="VAT in percent (19.25).")
    penalty_pct: Decimal = Field(Decimal(0), description="Late penalty, percent of the overdue.")
    penalty_fixed: Decimal = Field(Decimal(0), description="Late penalty, fixed part.")
    note: str = Field("", max_length=2000, description="Why this version (board decision...).")
    allow_backdated: bool = Field(
        False, description="Accept an effective date before today (re-prices open periods)."
    )

    def draft(self) -> TariffDraft:
        return TariffDraft(
            country_code=self.country_code.upper(),
            zone_id=self.zone_id,
            effective_from=self.effective_from,
            blocks=[Block(b.upper_m3, b.price_per_m3) for b in self.blocks],
            subscriptions=self.subscriptions,
            service_fee=self.service_fee,
            vat_pct=self.vat_pct,
            penalty_pct=self.penalty_pct,
            penalty_fixed=self.penalty_fixed,
            note=self.note,
        )


def plain(value: Decimal) -> Decimal:
    """A rate without the storage scale's trailing zeros, never in exponent form: 10, 1.5."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


class BlockOut(BaseModel):
    position: int
    upper_m3: Decimal | None
    price_per_m3: Decimal


class TariffOut(BaseModel):
    id: int
    country_code: str
    zone_id: int | None
    currency: str
    effective_from: date
    blocks: list[BlockOut]
    subscriptions: dict[DwellingType, Decimal]
    service_fee: Decimal
    vat_pct: Decimal
    penalty_pct: Decimal
    penalty_fixed: Decimal
    note: str
    created_by: int | None
    created_at: datetime

    @classmethod
    def from_version(cls, version: TariffVersion) -> TariffOut:
        currency = get_currency(version.currency)

        def major(minor: int) -> Decimal:
            return Money.from_minor(minor, currency).amount

        return cls(
            id=version.id,
            country_code=version.country_code,
            zone_id=version.zone_id,
            currency=version.currency,
            effective_from=version.effective_from,
            blocks=[
                BlockOut(
                    position=b.position,
                    upper_m3=None if b.upper_m3 is None else plain(b.upper_m3),
                    price_per_m3=plain(b.price_per_m3),
                )
                for b in version.blocks
            ],
            subscriptions={s.dwelling_type: major(s.monthly_minor) for s in version.subscriptions},
            service_fee=major(version.service_fee_minor),
            vat_pct=plain(version.vat_pct),
            penalty_pct=plain(version.penalty_pct),
            penalty_fixed=major(version.penalty_fixed_minor),
            note=version.note,
            created_by=version.created_by,
            created_at=version.created_at,
        )


class QuoteIn(BaseModel):
    volume_l: int = Field(ge=0, lt=10**12, description="Consumption over the period, in litres.")
    period_days: int = Field(30, ge=1, le=366, description="Period length in days.")
    dwelling_type: DwellingType
    vacant: bool = Field(False, description="The dwelling was vacant over the period.")


class LineOut(BaseModel):
    kind: LineKind
    amount: Decimal
    amount_minor: int
    block: int | None
    lower_l: int | None
    upper_l: int | None
    volume_l: int | None
    unit_price: Decimal | None
    vat_pct: Decimal | None


class QuoteOut(BaseModel):
    kind: InvoiceKind
    currency: str
    volume_l: int
    period_days: int
    lines: list[LineOut]
    net: Decimal
    vat: Decimal
    total: Decimal
    total_minor: int

    @classmethod
    def from_computation(cls, computation: InvoiceComputation) -> QuoteOut:
        return cls(
            kind=computation.kind,
            currency=computation.currency.code,
            volume_l=computation.volume_l,
            period_days=computation.period_days,
            lines=[
                LineOut(
                    kind=ln.kind,
                    amount=ln.amount.amount,
                    amount_minor=ln.amount.to_minor(),
                    block=ln.block,
                    lower_l=ln.lower_l,
                    upper_l=ln.upper_l,
                    volume_l=ln.volume_l,
                    unit_price=ln.unit_price,
                    vat_pct=ln.vat_pct,
                )
                for ln in computation.lines
            ],
            net=computation.net.amount,
            vat=computation.vat.amount,
            total=computation.total.amount,
            total_minor=computation.total.to_minor(),
        )
