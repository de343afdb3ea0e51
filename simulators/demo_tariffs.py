"""A tariff for the demo zone of each country the product ships, so that a demo fleet can be
billed from its first month: progressive blocks with a social first block, a subscription per
dwelling type, a service fee, VAT and a late penalty, shaped on each country's public utility
schedule (figures rounded; a demo, not a regulator's price list).

The version is the demo zone's own (never country-wide, so it prices no real zone), in force
from the first simulated day; it is added only where the zone has none in force then.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from billing.tariffs import service as tariff_service
from billing.tariffs.exceptions import InvalidTariff, TariffMissing
from billing.tariffs.models import TariffVersion
from billing.tariffs.pricing import Block
from registry.models import DwellingType

D = Decimal


def _draft(country_code: str, zone_id: int, effective_from: date) -> tariff_service.TariffDraft:
    note = "demo tariff (waterbill simulate --register)"
    if country_code == "CM":  # XAF, no minor unit
        return tariff_service.TariffDraft(
            country_code="CM",
            zone_id=zone_id,
            effective_from=effective_from,
            blocks=(Block(D(10), D(364)), Block(D(30), D(569)), Block(None, D(827))),
            subscriptions={
                DwellingType.APARTMENT: D(1000),
                DwellingType.HOUSE: D(1500),
                DwellingType.COMMERCIAL: D(5000),
                DwellingType.COMMUNAL: D(2500),
            },
            service_fee=D(500),
            vat_pct=D("19.25"),
            penalty_pct=D(5),
            penalty_fixed=D(1000),
            note=note,
        )
    if country_code == "PG":  # PGK, toea
        return tariff_service.TariffDraft(
            country_code="PG",
            zone_id=zone_id,
            effective_from=effective_from,
            blocks=(Block(D(20), D("3.50")), Block(D(60), D("5.20")), Block(None, D("6.80"))),
            subscriptions={
                DwellingType.APARTMENT: D("12.00"),
                DwellingType.HOUSE: D("18.00"),
                DwellingType.COMMERCIAL: D("60.00"),
                DwellingType.COMMUNAL: D("30.00"),
            },
            service_fee=D("5.00"),
            vat_pct=D(10),
            penalty_pct=D(2),
            penalty_fixed=D("10.00"),
            note=note,
        )
    raise InvalidTariff(f"no demo tariff for country {country_code!r} (the demo ships CM and PG)")


async def ensure_demo_tariff(
    session: AsyncSession, *, country_code: str, zone_id: int, effective_from: date, at: datetime
) -> TariffVersion | None:
    """Add the demo zone's tariff unless one is in force on ``effective_from``; the new version,
    or None when one was there."""
    try:
        await tariff_service.tariff_in_force(session, zone_id=zone_id, on=effective_from)
    except TariffMissing:
        return await tariff_service.create_tariff_version(
            session,
            draft=_draft(country_code, zone_id, effective_from),
            created_by=None,
            at=at,
            allow_backdated=True,
        )
    return None
