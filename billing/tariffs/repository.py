"""All tariff SQL: tariff versions, and the version in force for zones on a date."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import ScalarSelect, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.tariffs.models import TariffVersion
from core.countries import Country
from registry.models import Zone


class TariffRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def country(self, code: str) -> Country | None:
        return await self.session.get(Country, code)

    async def zone(self, zone_id: int) -> Zone | None:
        return await self.session.get(Zone, zone_id)

    async def get(self, tariff_id: int) -> TariffVersion | None:
        return await self.session.get(TariffVersion, tariff_id)

    async def version_exists(
        self, *, country_code: str, zone_id: int | None, effective_from: date
    ) -> bool:
        found = await self.session.scalar(
            select(TariffVersion.id).where(
                TariffVersion.country_code == country_code,
                TariffVersion.zone_id.is_(None)
                if zone_id is None
                else TariffVersion.zone_id == zone_id,
                TariffVersion.effective_from == effective_from,
            )
        )
        return found is not None

    async def add(self, version: TariffVersion) -> TariffVersion:
        self.session.add(version)
        await self.session.flush()
        return version

    async def list(self, *, country_code: str, zone_id: int | None) -> Sequence[TariffVersion]:
        """A scope's versions, newest first (``zone_id`` None: the country-wide ones)."""
        scope = (
            TariffVersion.zone_id.is_(None) if zone_id is None else TariffVersion.zone_id == zone_id
        )
        rows = await self.session.scalars(
            select(TariffVersion)
            .where(TariffVersion.country_code == country_code, scope)
            .order_by(TariffVersion.effective_from.desc())
        )
        return rows.all()

    async def in_force_for_zone(self, *, zone_id: int, on: date) -> TariffVersion | None:
        return await self.session.scalar(
            select(TariffVersion)
            .join(Zone, TariffVersion.id == _in_force_pick(on=on))
            .where(Zone.id == zone_id)
        )

    async def in_force_for_country(self, *, country_code: str, on: date) -> TariffVersion | None:
        return await self.session.scalar(
            select(TariffVersion)
            .where(
                TariffVersion.country_code == country_code,
                TariffVersion.zone_id.is_(None),
                TariffVersion.effective_from <= on,
            )
            .order_by(TariffVersion.effective_from.desc())
            .limit(1)
        )

    async def in_force_by_zone(self, *, on: date) -> dict[int, TariffVersion]:
        """Every zone's version in force on ``on``, in one query (for a set-based close)."""
        rows = await self.session.execute(
            select(TariffVersion, Zone.id).join(Zone, TariffVersion.id == _in_force_pick(on=on))
        )
        return {zone_id: version for version, zone_id in rows}


def _in_force_pick(*, on: date) -> ScalarSelect[int]:
    """Correlated on ``zone``: the id of the zone's version in force on ``on``.

    Zone-specific first, then newest first: a zone's own latest version overrides every
    country-wide one, whatever their dates; without one, the country's latest applies. Each
    pick is one descent of ``uq_tariff_scope_effective``.
    """
    return (
        select(TariffVersion.id)
        .where(
            TariffVersion.country_code == Zone.country_code,
            or_(TariffVersion.zone_id == Zone.id, TariffVersion.zone_id.is_(None)),
            TariffVersion.effective_from <= on,
        )
        .order_by(TariffVersion.zone_id.is_(None), TariffVersion.effective_from.desc())
        .limit(1)
        .correlate(Zone)
        .scalar_subquery()
    )
