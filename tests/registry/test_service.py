from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from core.exceptions import Conflict, InvalidInput
from core.telemetry import RollupPending
from registry.models import DwellingType, Meter
from registry.service import (
    create_building,
    create_dwelling,
    create_zone,
    get_meter_by_serial,
    register_meters,
    replace_meter,
)
from tests.registry.conftest import registration


class TestRegisterMeters:
    async def test_registers_new_and_leaves_known_serials(self, session):
        first = await register_meters(
            session, meters=[registration("WB-1001"), registration("WB-1002")]
        )
        again = await register_meters(
            session, meters=[registration("WB-1002"), registration("WB-1003")]
        )
        count = await session.scalar(select(func.count()).select_from(Meter))
        assert (first.created, first.existing) == (2, 0)
        assert (again.created, again.existing) == (1, 1)
        assert count == 3

    async def test_one_bad_registration_registers_nothing(self, session):
        with pytest.raises(InvalidInput, match="WB-BAD/1"):
            await register_meters(
                session, meters=[registration("WB-2001"), registration("WB-BAD/1")]
            )
        assert await session.scalar(select(func.count()).select_from(Meter)) == 0


@pytest.mark.services
class TestReplaceMeter:
    async def test_replacement_takes_the_dwelling_and_the_old_meter_is_removed(self, session):
        zone = await create_zone(session, country_code="CM", code="DLA-1", name="Douala 1")
        building = await create_building(session, zone_id=zone.id, name="Akwa 12")
        dwelling = await create_dwelling(
            session, building_id=building.id, reference="A1", dwelling_type=DwellingType.APARTMENT
        )
        await register_meters(session, meters=[registration("WB-OLD", dwelling_id=dwelling.id)])
        old = await get_meter_by_serial(session, serial="WB-OLD")
        at = datetime(2026, 6, 15, 10, tzinfo=UTC)

        new = await replace_meter(
            session, meter_id=old.id, replacement=registration("WB-NEW"), at=at
        )
        await session.refresh(old)
        assert (new.dwelling_id, new.installed_at) == (dwelling.id, at)
        assert old.removed_at == at
        pending = await session.scalar(
            select(RollupPending.since).where(RollupPending.meter_id == old.id)
        )
        assert pending == at

    async def test_replacing_twice_is_a_conflict(self, session):
        await register_meters(session, meters=[registration("WB-X1")])
        old = await get_meter_by_serial(session, serial="WB-X1")
        at = datetime(2026, 6, 15, tzinfo=UTC)
        await replace_meter(session, meter_id=old.id, replacement=registration("WB-X2"), at=at)
        with pytest.raises(Conflict, match="removed"):
            await replace_meter(session, meter_id=old.id, replacement=registration("WB-X3"), at=at)
