"""Tariff versions: how administrators add them and how billing finds the one in force.

Rules:

- A version is never edited; a change is a new version with its own ``effective_from``.
- At most one version per (country, zone or country-wide, effective_from).
- Blocks are contiguous from 0 m³ with increasing bounds and an open-ended last block; prices,
  fees and rates are non-negative; there is a subscription for every dwelling type; amounts are
  whole minor units of the country's currency (``billing.tariffs.pricing.Tariff.problems``).
- A version may not start before today unless ``allow_backdated`` is given: back-dating
  re-prices periods that may already be invoiced, so it is a deliberate act.
- In force for a zone on a date: the zone's own latest version on or before that date; when the
  zone has none, the country-wide latest. A zone's version overrides country-wide ones, however
  recent, until the zone gets a new version (or its override is ended by one equal to the
  country's).

Services never commit: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from psycopg import errors as pg_errors
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from billing.tariffs.exceptions import (
    InvalidTariff,
    TariffMissing,
    TariffNotFound,
    TariffVersionExists,
    UnknownZone,
)
from billing.tariffs.models import TariffBlock, TariffSubscription, TariffVersion
from billing.tariffs.pricing import Block, Tariff
from billing.tariffs.repository import TariffRepository
from core.countries import country_days
from core.money import Currency, Money, get_currency
from registry.models import DwellingType

UNIQUE_VERSION = "uq_tariff_scope_effective"


@dataclass(frozen=True)
class TariffDraft:
    """A new version as an administrator submits it; amounts in major units (12.50, 500)."""

    country_code: str
    effective_from: date
    blocks: Sequence[Block]
    subscriptions: Mapping[DwellingType, Decimal]
    service_fee: Decimal
    vat_pct: Decimal
    penalty_pct: Decimal = Decimal(0)
    penalty_fixed: Decimal = Decimal(0)
    zone_id: int | None = None
    note: str = ""


async def create_tariff_version(
    session: AsyncSession,
    *,
    draft: TariffDraft,
    created_by: int | None,
    at: datetime,
    allow_backdated: bool = False,
) -> TariffVersion:
    """Validate and add a tariff version; "today" is the country's day at the instant ``at``.

    Raises:
        InvalidTariff: with every problem found (unknown country or zone, block rules, amounts,
            a start in the past).
        TariffVersionExists: the scope already has a version starting that day.
    """
    repo = TariffRepository(session)
    country = await repo.country(draft.country_code)
    if country is None:
        raise InvalidTariff(f"country {draft.country_code!r} does not exist")
    problems: list[str] = []
    today = (await country_days(session, countries=[country.code], at=at))[country.code]
    if draft.zone_id is not None:
        zone = await repo.zone(draft.zone_id)
        if zone is None:
            problems.append(f"zone {draft.zone_id} does not exist")
        elif zone.country_code != country.code:
            problems.append(f"zone {draft.zone_id} is in {zone.country_code}, not {country.code}")
    if draft.effective_from < today and not allow_backdated:
        problems.append(
            f"effective_from {draft.effective_from} is before today ({today}):"
            " back-dating re-prices periods that may be invoiced already"
        )
    currency = get_currency(country.currency)
    amounts = {
        "service fee": draft.service_fee,
        "fixed penalty": draft.penalty_fixed,
        **{f"{t.value} subscription": v for t, v in draft.subscriptions.items()},
    }
    money = {name: _money(name, value, currency, problems) for name, value in amounts.items()}
    if problems:
        raise InvalidTariff("; ".join(problems))
    tariff = Tariff(
        currency=currency,
        blocks=tuple(draft.blocks),
        subscriptions={t: money[f"{t.value} subscription"] for t in draft.subscriptions},
        service_fee=money["service fee"],
        vat_pct=draft.vat_pct,
        penalty_pct=draft.penalty_pct,
        penalty_fixed=money["fixed penalty"],
    )
    problems = tariff.problems()
    if problems:
        raise InvalidTariff("; ".join(problems))
    scope = f"zone {draft.zone_id}" if draft.zone_id is not None else f"{country.code} country-wide"
    exists = TariffVersionExists(f"{scope} already has a tariff from {draft.effective_from}")
    if await repo.version_exists(
        country_code=country.code, zone_id=draft.zone_id, effective_from=draft.effective_from
    ):
        raise exists
    version = TariffVersion(
        country_code=country.code,
        zone_id=draft.zone_id,
        currency=currency.code,
        effective_from=draft.effective_from,
        vat_pct=tariff.vat_pct,
        service_fee_minor=tariff.service_fee.to_minor(),
        penalty_pct=tariff.penalty_pct,
        penalty_fixed_minor=tariff.penalty_fixed.to_minor(),
        note=draft.note,
        created_by=created_by,
        blocks=[
            TariffBlock(position=n, upper_m3=b.upper_m3, price_per_m3=b.price_per_m3)
            for n, b in enumerate(tariff.blocks, start=1)
        ],
        subscriptions=[
            TariffSubscription(dwelling_type=t, monthly_minor=m.to_minor())
            for t, m in tariff.subscriptions.items()
        ],
    )
    try:
        return await repo.add(version)
    except IntegrityError as exc:
        # Another administrator added the same version since our check.
        if (
            isinstance(exc.orig, pg_errors.UniqueViolation)
            and exc.orig.diag.constraint_name == UNIQUE_VERSION
        ):
            raise exists from None
        raise


async def get_tariff_version(session: AsyncSession, *, tariff_id: int) -> TariffVersion:
    version = await TariffRepository(session).get(tariff_id)
    if version is None:
        raise TariffNotFound(f"tariff {tariff_id} does not exist")
    return version


async def list_tariff_versions(
    session: AsyncSession, *, country_code: str, zone_id: int | None = None
) -> Sequence[TariffVersion]:
    """A scope's versions, newest first (``zone_id`` None: the country-wide ones)."""
    return await TariffRepository(session).list(country_code=country_code, zone_id=zone_id)


async def tariff_in_force(
    session: AsyncSession, *, zone_id: int, on: date | datetime
) -> TariffVersion:
    """The version that prices a zone's consumption on ``on`` (rules in the module docstring):
    a day, or an instant, meaning the zone's country's day then.

    Raises:
        UnknownZone: no such zone.
        TariffMissing: neither the zone nor its country has a version on or before ``on``.
    """
    repo = TariffRepository(session)
    zone = await repo.zone(zone_id)
    if zone is None:
        raise UnknownZone(f"zone {zone_id} does not exist")
    if isinstance(on, datetime):
        on = (await country_days(session, countries=[zone.country_code], at=on))[zone.country_code]
    version = await repo.in_force_for_zone(zone_id=zone_id, on=on)
    if version is None:
        raise TariffMissing(
            f"no tariff in force on {on} for zone {zone.code} or country {zone.country_code}"
        )
    return version


async def country_tariff_in_force(
    session: AsyncSession, *, country_code: str, on: date
) -> TariffVersion:
    """The country-wide version in force on ``on``."""
    version = await TariffRepository(session).in_force_for_country(country_code=country_code, on=on)
    if version is None:
        raise TariffMissing(f"no country-wide tariff in force on {on} for {country_code}")
    return version


async def tariffs_in_force_by_zone(session: AsyncSession, *, on: date) -> dict[int, TariffVersion]:
    """Every zone's version in force on ``on`` in one query; zones without one are absent."""
    return await TariffRepository(session).in_force_by_zone(on=on)


def as_tariff(version: TariffVersion) -> Tariff:
    """A stored version as the plain figures ``billing.tariffs.pricing.compute_invoice`` takes."""
    currency = get_currency(version.currency)
    return Tariff(
        currency=currency,
        blocks=tuple(Block(b.upper_m3, b.price_per_m3) for b in version.blocks),
        subscriptions={
            s.dwelling_type: Money.from_minor(s.monthly_minor, currency)
            for s in version.subscriptions
        },
        service_fee=Money.from_minor(version.service_fee_minor, currency),
        vat_pct=version.vat_pct,
        penalty_pct=version.penalty_pct,
        penalty_fixed=Money.from_minor(version.penalty_fixed_minor, currency),
    )


def _money(name: str, value: Decimal, currency: Currency, problems: list[str]) -> Money:
    try:
        return Money(value, currency)
    except (TypeError, ValueError):
        problems.append(f"{name} {value} is not a whole number of {currency.code} minor units")
        return Money.zero(currency)
