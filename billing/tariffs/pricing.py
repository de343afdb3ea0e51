"""Tariff maths: from a metered volume to invoice lines. Pure, synchronous, no I/O.

The rules, in the order they apply:

1. **Volume.** Metered volume arrives as integer litres; the maths works in litres and shows
   m³ (litres / 1000) as exact ``Decimal``. A negative volume is refused.
2. **Blocks.** A tariff's blocks are contiguous from 0 m³ and half-open on a continuous volume:
   with upper bounds 10 and 30, block 1 takes (0, 10], block 2 (10, 30], block 3 everything above
   30. Exactly 10 m³ is all in block 1; 10.001 m³ puts 1 litre in block 2.
3. **Period length.** Bounds are set for a 30-day month and scale with the period:
   ``bound × days / 30``, rounded half-up to the whole litre. A 45-day period has bounds 15 and
   45 m³; a 25-day period 8.333 and 25 m³. Whole-litre bounds make each block's volume a whole
   number of litres, so the block volumes add up to the metered volume exactly.
4. **Consumption lines.** One line per block with a positive volume: volume × price per m³,
   rounded once (``core.money``: half-up to the minor unit).
5. **Subscription.** The monthly subscription of the dwelling's type, pro-rated like the
   bounds (``monthly × days / 30``): a bimonthly period pays two months, a 28-day one 28/30.
   One rule for everything "per month" keeps consumption and standing charges consistent.
6. **Service fee.** Once per periodic invoice, not pro-rated.
7. **VAT.** One line: the tariff's rate applied to the sum of the rounded lines above, rounded
   once (VAT per rate on the invoice's net total, as EU invoicing rules allow).
8. **Vacancy.** A vacant dwelling with no consumption gets a *subscription-only* invoice:
   subscription and its VAT, no service fee (there was no reading to bill). A vacant dwelling
   that did consume is billed normally: vacancy never hides consumption.
9. **Total.** The exact sum of the rounded lines, so printed lines always add up to the total.

Late penalty (``late_penalty``): ``overdue × pct / 100`` rounded, plus the fixed amount; zero
when nothing is overdue. Penalties are damages, outside the scope of VAT.

A period close calls ``compute_invoice`` per dwelling with plain values (volume, days, type,
vacancy) and the ``Tariff`` in force; nothing here reads the database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from billing.tariffs.exceptions import InvalidConsumption, InvalidTariff
from core.money import ROUNDING, Currency, Money, money_sum
from registry.models import DwellingType

LITRES_PER_M3 = 1000
DAYS_PER_MONTH = 30
# Bounds are whole litres (3 decimals of m³); prices per m³ and rates as stored (see models).
BOUND_DECIMALS = 3
PRICE_DECIMALS = 6
RATE_DECIMALS = 4
MAX_PERIOD_DAYS = 366
# Ceilings that keep every figure inside its column (NUMERIC(12,3), NUMERIC(14,6), BIGINT) and
# every product far inside Decimal's 28 digits; no real tariff comes near them.
MAX_BOUND_M3 = Decimal(10) ** 8
MAX_PRICE = Decimal(10) ** 7
MAX_AMOUNT = Decimal(10) ** 12


class LineKind(StrEnum):
    CONSUMPTION = "consumption"
    SUBSCRIPTION = "subscription"
    SERVICE_FEE = "service_fee"
    VAT = "vat"


class InvoiceKind(StrEnum):
    """Every kind of invoice, the one enum (stored as ``invoice_kind``). Pricing yields the first
    two; a re-close that finds a different volume makes a regularisation."""

    PERIODIC = "periodic"
    # A vacant dwelling with no consumption: subscription and its VAT only.
    SUBSCRIPTION_ONLY = "subscription_only"
    # Corrects an issued invoice (late data, corrected read): difference lines only.
    REGULARISATION = "regularisation"


@dataclass(frozen=True)
class Block:
    """A price per m³ up to ``upper_m3`` (inclusive); ``None`` is the open-ended last block."""

    upper_m3: Decimal | None
    price_per_m3: Decimal


@dataclass(frozen=True)
class Tariff:
    """One tariff version's figures, in one currency."""

    currency: Currency
    blocks: tuple[Block, ...]
    subscriptions: Mapping[DwellingType, Money]
    service_fee: Money
    vat_pct: Decimal
    penalty_pct: Decimal
    penalty_fixed: Money

    def problems(self) -> list[str]:
        """Every rule this tariff breaks, in words an administrator can act on."""
        found: list[str] = []
        if not self.blocks:
            found.append("a tariff needs at least one block")
        previous = Decimal(0)
        for number, block in enumerate(self.blocks, start=1):
            last = number == len(self.blocks)
            if block.upper_m3 is None and not last:
                found.append(f"block {number} is open-ended but is not the last block")
            if block.upper_m3 is not None:
                if last:
                    found.append(f"the last block ({number}) must be open-ended")
                if block.upper_m3 <= previous:
                    found.append(
                        f"block {number} ends at {block.upper_m3} m³,"
                        f" not above the previous bound {previous} m³"
                    )
                if block.upper_m3 >= MAX_BOUND_M3:
                    found.append(f"block {number} bound {block.upper_m3} m³ is too large")
                if _decimals(block.upper_m3) > BOUND_DECIMALS:
                    found.append(f"block {number} bound {block.upper_m3} m³ is finer than a litre")
                previous = max(previous, block.upper_m3)
            if block.price_per_m3 < 0:
                found.append(f"block {number} price {block.price_per_m3} is negative")
            if block.price_per_m3 >= MAX_PRICE:
                found.append(f"block {number} price {block.price_per_m3} is too large")
            if _decimals(block.price_per_m3) > PRICE_DECIMALS:
                found.append(
                    f"block {number} price {block.price_per_m3} has more than"
                    f" {PRICE_DECIMALS} decimals"
                )
        missing = [t.value for t in DwellingType if t not in self.subscriptions]
        if missing:
            found.append("no subscription for dwelling types: " + ", ".join(missing))
        amounts = {
            "service fee": self.service_fee,
            "fixed penalty": self.penalty_fixed,
            **{f"{t} subscription": m for t, m in self.subscriptions.items()},
        }
        for name, amount in amounts.items():
            if amount.currency != self.currency:
                found.append(f"{name} is in {amount.currency.code}, not {self.currency.code}")
            elif amount.amount < 0:
                found.append(f"{name} {amount.amount} is negative")
            elif amount.amount >= MAX_AMOUNT:
                found.append(f"{name} {amount.amount} is too large")
        for name, pct in (("VAT", self.vat_pct), ("penalty", self.penalty_pct)):
            if not 0 <= pct <= 100:
                found.append(f"{name} rate {pct}% is not between 0 and 100")
            if _decimals(pct) > RATE_DECIMALS:
                found.append(f"{name} rate {pct}% has more than {RATE_DECIMALS} decimals")
        return found


@dataclass(frozen=True)
class InvoiceLine:
    """One printed line. Consumption lines carry their block, bounds, volume and unit price."""

    kind: LineKind
    amount: Money
    block: int | None = None
    lower_l: int | None = None
    upper_l: int | None = None
    volume_l: int | None = None
    unit_price: Decimal | None = None
    vat_pct: Decimal | None = None

    @property
    def volume_m3(self) -> Decimal | None:
        return None if self.volume_l is None else litres_to_m3(self.volume_l)


@dataclass(frozen=True)
class InvoiceComputation:
    """What an invoice charges: its lines, and totals derived from them (never stored apart)."""

    kind: InvoiceKind
    currency: Currency
    volume_l: int
    period_days: int
    lines: tuple[InvoiceLine, ...] = field(default_factory=tuple)

    @property
    def net(self) -> Money:
        """Total before VAT."""
        return money_sum((ln.amount for ln in self.lines if ln.kind != LineKind.VAT), self.currency)

    @property
    def vat(self) -> Money:
        return money_sum((ln.amount for ln in self.lines if ln.kind == LineKind.VAT), self.currency)

    @property
    def total(self) -> Money:
        return money_sum((ln.amount for ln in self.lines), self.currency)


def litres_to_m3(litres: int) -> Decimal:
    return Decimal(litres).scaleb(-3)


def scaled_bounds_l(blocks: tuple[Block, ...], period_days: int) -> list[int | None]:
    """Each block's upper bound in litres for a period of ``period_days`` (rule 3)."""
    return [
        None
        if b.upper_m3 is None
        else int(
            (b.upper_m3 * LITRES_PER_M3 * period_days / DAYS_PER_MONTH).quantize(
                Decimal(1), rounding=ROUNDING
            )
        )
        for b in blocks
    ]


def compute_invoice(
    tariff: Tariff,
    *,
    volume_l: int,
    period_days: int,
    dwelling_type: DwellingType,
    vacant: bool = False,
) -> InvoiceComputation:
    """The lines of one dwelling's invoice for one period (rules in the module docstring).

    Args:
        tariff: the version in force for the dwelling's zone at the period's end.
        volume_l: metered consumption over the period, in litres.
        period_days: length of the period in the dwelling's local days.
        dwelling_type: selects the monthly subscription.
        vacant: the dwelling was vacant; with no consumption this gives a subscription-only
            invoice.

    Raises:
        InvalidConsumption: negative volume, or a period outside 1..366 days.
        InvalidTariff: the tariff breaks a rule (see ``Tariff.problems``).
    """
    [computation] = compute_invoices(
        tariff, period_days=period_days, requests=[(volume_l, dwelling_type, vacant)]
    )
    return computation


def compute_invoices(
    tariff: Tariff,
    *,
    period_days: int,
    requests: Sequence[tuple[int, DwellingType, bool]],
) -> list[InvoiceComputation]:
    """``compute_invoice`` for many dwellings under one tariff and period length, with the
    tariff checked and its bounds and subscriptions scaled once (a period close prices
    hundreds of thousands of dwellings). Same rules, same lines.

    Args:
        requests: (volume in litres, dwelling type, vacant) per dwelling.
    """
    if not 1 <= period_days <= MAX_PERIOD_DAYS:
        raise InvalidConsumption(f"period of {period_days} days is not 1..{MAX_PERIOD_DAYS}")
    problems = tariff.problems()
    if problems:
        raise InvalidTariff("; ".join(problems))
    currency = tariff.currency
    bounds = scaled_bounds_l(tariff.blocks, period_days)
    subscriptions = {
        t: InvoiceLine(
            kind=LineKind.SUBSCRIPTION,
            amount=Money.round(m.amount * period_days / DAYS_PER_MONTH, currency),
        )
        for t, m in tariff.subscriptions.items()
    }
    service_fee = InvoiceLine(kind=LineKind.SERVICE_FEE, amount=tariff.service_fee)
    computations = []
    for volume_l, dwelling_type, vacant in requests:
        if isinstance(volume_l, bool) or not isinstance(volume_l, int):
            raise InvalidConsumption(f"volume must be whole litres, not {volume_l!r}")
        if volume_l < 0:
            raise InvalidConsumption(f"volume {volume_l} L is negative")
        lines = _consumption_lines(tariff, bounds, volume_l=volume_l)
        lines.append(subscriptions[dwelling_type])
        subscription_only = vacant and volume_l == 0
        if not subscription_only:
            lines.append(service_fee)
        if tariff.vat_pct:
            base = sum((ln.amount.amount for ln in lines), Decimal(0))
            lines.append(
                InvoiceLine(
                    kind=LineKind.VAT,
                    amount=Money.round(base * tariff.vat_pct / 100, currency),
                    vat_pct=tariff.vat_pct,
                )
            )
        computations.append(
            InvoiceComputation(
                kind=InvoiceKind.SUBSCRIPTION_ONLY if subscription_only else InvoiceKind.PERIODIC,
                currency=currency,
                volume_l=volume_l,
                period_days=period_days,
                lines=tuple(lines),
            )
        )
    return computations


def _consumption_lines(
    tariff: Tariff, bounds: list[int | None], *, volume_l: int
) -> list[InvoiceLine]:
    lines = []
    lower = 0
    for number, (block, upper) in enumerate(zip(tariff.blocks, bounds, strict=True), start=1):
        # A 1-day period can scale two bounds onto the same litre: that block is then empty.
        top = volume_l if upper is None else min(volume_l, upper)
        in_block = max(top - lower, 0)
        if in_block:
            amount = Money.round(
                Decimal(in_block) * block.price_per_m3 / LITRES_PER_M3, tariff.currency
            )
            lines.append(
                InvoiceLine(
                    kind=LineKind.CONSUMPTION,
                    amount=amount,
                    block=number,
                    lower_l=lower,
                    upper_l=upper,
                    volume_l=in_block,
                    unit_price=block.price_per_m3,
                )
            )
        if upper is None or volume_l <= upper:
            break
        lower = upper
    return lines


def late_penalty(tariff: Tariff, *, overdue: Money) -> Money:
    """Penalty on an overdue balance: ``overdue × pct / 100`` rounded, plus the fixed part.

    Nothing is owed on a balance that is zero or in credit.
    """
    if overdue.currency != tariff.currency:
        raise InvalidConsumption(
            f"overdue amount is in {overdue.currency.code}, the tariff in {tariff.currency.code}"
        )
    if overdue.amount <= 0:
        return Money.zero(tariff.currency)
    return (
        Money.round(overdue.amount * tariff.penalty_pct / 100, tariff.currency)
        + tariff.penalty_fixed
    )


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(-exponent, 0) if isinstance(exponent, int) else 0
