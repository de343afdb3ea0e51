"""The asset registry: zones, buildings, dwellings and meters, as operators manage them.

Every path that adds meters (the API, ``waterbill meters import``, the simulator) goes through
``register_meters``, so the rules below hold whoever registers them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from core.exceptions import Conflict, InvalidInput, NotFound
from registry.exceptions import (
    BuildingNotFound,
    DwellingNotFound,
    MeterAlreadyRemoved,
    MeterNotFound,
)
from registry.models import (
    Building,
    Dwelling,
    DwellingOccupant,
    DwellingType,
    Meter,
    Occupancy,
    OccupantRelation,
    TechnicianAssignment,
    Zone,
)
from registry.registration import MeterRegistration, RegistrationResult
from registry.repository import RegistryRepository


async def register_meters(
    session: AsyncSession, *, meters: Sequence[MeterRegistration]
) -> RegistrationResult:
    """Register meters in one statement; serials already known are left as they are.

    Raises:
        InvalidInput: any registration breaks a rule (nothing is registered then).
    """
    problems = [f"{m.serial}: {p}" for m in meters for p in m.problems()]
    if problems:
        raise InvalidInput("; ".join(problems))
    if not meters:
        return RegistrationResult(created=0, existing=0)
    rows = [
        {
            "serial": m.serial,
            "kind": m.kind,
            "unit": m.unit,
            "register_digits": m.register_digits,
            "dwelling_id": m.dwelling_id,
            "installed_at": m.installed_at,
            "initial_index_l": m.initial_index_l,
            "reporting_interval_s": m.reporting_interval_s,
        }
        for m in meters
    ]
    created = await RegistryRepository(session).insert_meters(rows)
    return RegistrationResult(created=created, existing=len(rows) - created)


async def get_meter(session: AsyncSession, *, meter_id: int) -> Meter:
    meter = await session.get(Meter, meter_id)
    if meter is None:
        raise MeterNotFound(f"meter {meter_id} does not exist")
    return meter


async def get_meter_by_serial(session: AsyncSession, *, serial: str) -> Meter:
    meter = await RegistryRepository(session).meter_by_serial(serial)
    if meter is None:
        raise MeterNotFound(f"no meter with serial {serial!r}")
    return meter


async def replace_meter(
    session: AsyncSession, *, meter_id: int, replacement: MeterRegistration, at: datetime
) -> Meter:
    """Remove a meter at ``at`` and install its replacement on the same dwelling."""
    old = await get_meter(session, meter_id=meter_id)
    if old.removed_at is not None:
        raise MeterAlreadyRemoved(f"meter {old.serial} was removed at {old.removed_at}")
    if at <= old.installed_at:
        raise InvalidInput(f"replacement time {at} is before meter {old.serial} was installed")
    await RegistryRepository(session).remove_meter(old.id, at=at)
    new = MeterRegistration(
        serial=replacement.serial,
        kind=replacement.kind,
        unit=replacement.unit,
        register_digits=replacement.register_digits,
        dwelling_id=old.dwelling_id,
        installed_at=at,
        initial_index_l=replacement.initial_index_l,
        reporting_interval_s=replacement.reporting_interval_s,
    )
    result = await register_meters(session, meters=[new])
    if result.created != 1:
        raise Conflict(f"serial {replacement.serial!r} is already registered")
    return await get_meter_by_serial(session, serial=replacement.serial)


async def list_zones(session: AsyncSession, *, limit: int, offset: int) -> list[Zone]:
    return await RegistryRepository(session).zones(limit=limit, offset=offset)


async def create_zone(
    session: AsyncSession, *, country_code: str, code: str, name: str, timezone: str | None = None
) -> Zone:
    """Create a zone in a configured country; its code is unique, its time zone an IANA name."""
    repository = RegistryRepository(session)
    if not await repository.country_exists(country_code):
        raise NotFound(f"country {country_code} is not configured")
    if await repository.zone_code_taken(code):
        raise Conflict(f"zone code {code!r} is taken")
    if timezone is not None:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(f"timezone {timezone!r} is not an IANA time zone") from None
    zone = Zone(country_code=country_code, code=code, name=name, timezone=timezone)
    session.add(zone)
    await session.flush()
    return zone


async def create_building(
    session: AsyncSession, *, zone_id: int, name: str, address: str = ""
) -> Building:
    await ensure_zone(session, zone_id=zone_id)
    building = Building(zone_id=zone_id, name=name, address=address)
    session.add(building)
    await session.flush()
    return building


async def create_dwelling(
    session: AsyncSession,
    *,
    building_id: int,
    reference: str,
    dwelling_type: DwellingType,
    occupancy: Occupancy = Occupancy.OCCUPIED,
    occupants: int | None = None,
) -> Dwelling:
    await get_building(session, building_id=building_id)
    await check_dwelling_reference(session, building_id=building_id, reference=reference)
    dwelling = Dwelling(
        building_id=building_id,
        reference=reference,
        dwelling_type=dwelling_type,
        occupancy=occupancy,
        occupants=occupants,
    )
    session.add(dwelling)
    await session.flush()
    return dwelling


async def get_building(session: AsyncSession, *, building_id: int) -> Building:
    building = await session.get(Building, building_id)
    if building is None:
        raise BuildingNotFound(f"building {building_id} does not exist")
    return building


async def get_dwelling(session: AsyncSession, *, dwelling_id: int) -> Dwelling:
    dwelling = await session.get(Dwelling, dwelling_id)
    if dwelling is None:
        raise DwellingNotFound(f"dwelling {dwelling_id} does not exist")
    return dwelling


async def ensure_zone(session: AsyncSession, *, zone_id: int) -> Zone:
    zone = await session.get(Zone, zone_id)
    if zone is None:
        raise NotFound(f"zone {zone_id} does not exist")
    return zone


async def update_building(
    session: AsyncSession, *, building_id: int, changes: Mapping[str, Any]
) -> Building:
    """Apply ``changes`` (name, address, zone_id) to a building."""
    building = await get_building(session, building_id=building_id)
    if "zone_id" in changes:
        await ensure_zone(session, zone_id=changes["zone_id"])
    for name, value in changes.items():
        setattr(building, name, value)
    await session.flush()
    return building


async def check_dwelling_reference(
    session: AsyncSession, *, building_id: int, reference: str, dwelling_id: int | None = None
) -> None:
    """Raises Conflict when another dwelling of the building has this reference."""
    taken = await RegistryRepository(session).dwelling_reference_taken(
        building_id=building_id, reference=reference, dwelling_id=dwelling_id
    )
    if taken:
        raise Conflict(f"building {building_id} already has a dwelling {reference!r}")


async def update_dwelling(
    session: AsyncSession, *, dwelling_id: int, changes: Mapping[str, Any]
) -> Dwelling:
    """Apply ``changes`` (reference, dwelling_type, occupancy, occupants) to a dwelling."""
    dwelling = await get_dwelling(session, dwelling_id=dwelling_id)
    if "reference" in changes:
        await check_dwelling_reference(
            session,
            building_id=dwelling.building_id,
            reference=changes["reference"],
            dwelling_id=dwelling.id,
        )
    for name, value in changes.items():
        setattr(dwelling, name, value)
    await session.flush()
    return dwelling


async def update_meter(
    session: AsyncSession, *, meter_id: int, changes: Mapping[str, Any]
) -> Meter:
    """Apply ``changes`` (dwelling_id: assign or unassign, unit, reporting_interval_s)."""
    meter = await get_meter(session, meter_id=meter_id)
    if changes.get("dwelling_id") is not None:
        await get_dwelling(session, dwelling_id=changes["dwelling_id"])
    if meter.removed_at is not None and "dwelling_id" in changes:
        raise MeterAlreadyRemoved(f"meter {meter.serial} was removed at {meter.removed_at}")
    for name, value in changes.items():
        setattr(meter, name, value)
    await session.flush()
    return meter


async def add_occupant(
    session: AsyncSession,
    *,
    dwelling_id: int,
    user_id: int,
    relation: OccupantRelation,
    start_date: date,
    end_date: date | None = None,
) -> DwellingOccupant:
    """Link a tenant or owner to a dwelling from ``start_date`` (to ``end_date`` if known)."""
    await get_dwelling(session, dwelling_id=dwelling_id)
    if not await RegistryRepository(session).user_exists(user_id):
        raise NotFound(f"user {user_id} does not exist")
    if end_date is not None and end_date < start_date:
        raise InvalidInput("end_date is before start_date")
    occupant = DwellingOccupant(
        dwelling_id=dwelling_id,
        user_id=user_id,
        relation=relation,
        start_date=start_date,
        end_date=end_date,
    )
    session.add(occupant)
    await session.flush()
    return occupant


async def end_occupancy(
    session: AsyncSession, *, dwelling_id: int, occupant_id: int, end_date: date
) -> DwellingOccupant:
    occupant = await session.get(DwellingOccupant, occupant_id)
    if occupant is None or occupant.dwelling_id != dwelling_id:
        raise NotFound(f"occupant {occupant_id} of dwelling {dwelling_id} does not exist")
    if end_date < occupant.start_date:
        raise InvalidInput(f"end_date {end_date} is before start_date {occupant.start_date}")
    occupant.end_date = end_date
    await session.flush()
    return occupant


async def set_building_manager(
    session: AsyncSession, *, building_id: int, user_id: int, managed: bool
) -> None:
    """Make ``user_id`` a manager of the building, or stop it."""
    await get_building(session, building_id=building_id)
    await RegistryRepository(session).set_manager(
        building_id=building_id, user_id=user_id, managed=managed
    )


async def assign_technician(
    session: AsyncSession, *, technician_id: int, building_id: int | None, meter_id: int | None
) -> TechnicianAssignment:
    """Put a building or a single meter on a technician's round."""
    if (building_id is None) == (meter_id is None):
        raise InvalidInput("give exactly one of building_id and meter_id")
    if building_id is not None:
        await get_building(session, building_id=building_id)
    if meter_id is not None:
        await get_meter(session, meter_id=meter_id)
    assignment = TechnicianAssignment(
        technician_id=technician_id, building_id=building_id, meter_id=meter_id
    )
    session.add(assignment)
    await session.flush()
    return assignment


async def list_buildings(
    session: AsyncSession, *, in_reach: Select[Any] | None, limit: int, offset: int
) -> list[Building]:
    """Buildings by id; ``in_reach`` is a SELECT of the ids the caller may see (None: all)."""
    return await RegistryRepository(session).buildings(
        in_reach=in_reach, limit=limit, offset=offset
    )


async def list_dwellings(
    session: AsyncSession,
    *,
    in_reach: Select[Any] | None,
    building_id: int | None,
    limit: int,
    offset: int,
) -> list[Dwelling]:
    """Dwellings by id, optionally of one building; ``in_reach`` as for ``list_buildings``."""
    return await RegistryRepository(session).dwellings(
        in_reach=in_reach, building_id=building_id, limit=limit, offset=offset
    )


async def list_occupants(session: AsyncSession, *, dwelling_id: int) -> list[DwellingOccupant]:
    """Tenants and owners of a dwelling, past and present, oldest first."""
    return await RegistryRepository(session).occupants(dwelling_id)


async def list_meters(
    session: AsyncSession, *, in_reach: Select[Any] | None, limit: int, offset: int
) -> list[Meter]:
    """Meters by id; ``in_reach`` as for ``list_buildings``."""
    return await RegistryRepository(session).meters(in_reach=in_reach, limit=limit, offset=offset)


async def create_meter(session: AsyncSession, *, registration: MeterRegistration) -> Meter:
    """Register one meter, on an existing dwelling if it names one."""
    if registration.dwelling_id is not None:
        await get_dwelling(session, dwelling_id=registration.dwelling_id)
    result = await register_meters(session, meters=[registration])
    if result.created != 1:
        raise Conflict(f"serial {registration.serial!r} is already registered")
    return await get_meter_by_serial(session, serial=registration.serial)
