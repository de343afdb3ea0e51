"""The simulated fleet's place in the asset registry: a demo zone, buildings and dwellings
(occupants as the demand model draws them), and its meters registered through
``registry.service.register_meters``, the path operators use, each with its broker login when
the broker's password file is configured. Safe to run again: what exists is kept, and the
logins are issued anew (the simulator keeps them for the run, as installers keep a device's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import MqttSettings
from registry import credentials as registry_credentials
from registry import service as registry_service
from registry.models import Building, Dwelling, DwellingType, MeterKind, Occupancy, Zone
from registry.registration import MeterRegistration
from simulators.demand import local_day_start
from simulators.fleet import Fleet

DWELLINGS_PER_BUILDING = 20


@dataclass(frozen=True)
class FleetRegistration:
    zone_id: int
    buildings_created: int
    dwellings_created: int
    meters_created: int
    meters_existing: int
    # Serial -> broker password, for the publishers; empty without a broker password file.
    credentials: Mapping[str, str] = field(default_factory=dict, repr=False)


def zone_code(serial_prefix: str) -> str:
    return f"{serial_prefix}-DEMO"


async def register_fleet(
    session: AsyncSession,
    *,
    fleet: Fleet,
    country_code: str,
    installed_day: int = 0,
    vacant: Sequence[int] = (),
    mqtt: MqttSettings | None = None,
) -> FleetRegistration:
    """Create what the fleet needs in the registry and register its meters (idempotent).

    Args:
        installed_day: simulated day (from the anchor) the meters are installed, with the index
            they show then: rollups start there, so a fleet published from a late day does not
            drag hourly rows back to the anchor.
        vacant: meter numbers whose dwelling is registered vacant.
        mqtt: with a ``password_file``, every meter gets its broker login.
    """
    cfg = fleet.config
    code = zone_code(cfg.serial_prefix)
    zone = await session.scalar(select(Zone).where(Zone.code == code))
    if zone is None:
        zone = await registry_service.create_zone(
            session, country_code=country_code, code=code, name=f"Simulated district {code}"
        )
    numbers = [int(n) for n in fleet.meter_numbers]
    building_of = {
        n: f"{cfg.serial_prefix} block {(n - 1) // DWELLINGS_PER_BUILDING + 1:04d}" for n in numbers
    }
    names = sorted(set(building_of.values()))
    found = await session.execute(
        select(Building.name, Building.id).where(
            Building.zone_id == zone.id, Building.name.in_(names)
        )
    )
    existing = dict(found.all())
    missing = [Building(zone_id=zone.id, name=name) for name in names if name not in existing]
    session.add_all(missing)
    await session.flush()
    building_ids = {**existing, **{b.name: b.id for b in missing}}
    vacant_set = set(vacant)
    rows = [
        {
            "building_id": building_ids[building_of[n]],
            "reference": serial,
            "dwelling_type": DwellingType.APARTMENT,
            "occupants": int(occupants),
            "occupancy": Occupancy.VACANT if n in vacant_set else Occupancy.OCCUPIED,
        }
        for n, serial, occupants in zip(numbers, fleet.serials, fleet.occupants, strict=True)
    ]
    dwellings_created = 0
    # Chunks keep each statement under PostgreSQL's 65535 bind parameters.
    for start in range(0, len(rows), 5000):
        statement = (
            insert(Dwelling)
            .values(rows[start : start + 5000])
            .on_conflict_do_nothing(index_elements=[Dwelling.building_id, Dwelling.reference])
            .returning(Dwelling.id)
        )
        dwellings_created += len((await session.execute(statement)).all())
    found = await session.execute(
        select(Dwelling.reference, Dwelling.id).where(
            Dwelling.building_id.in_(set(building_ids.values()))
        )
    )
    dwelling_of = dict(found.all())
    installed_at = local_day_start(installed_day, cfg.utc_offset_s)
    if installed_day:
        step = int((installed_at.timestamp() - fleet.anchor_epoch()) // cfg.interval_s) - 1
        initial = fleet.readings(step, 1)[1][:, 0]
    else:
        initial = fleet.initial_index_l
    meters = [
        MeterRegistration(
            serial=serial,
            kind=MeterKind.IOT,
            installed_at=installed_at,
            register_digits=cfg.register_digits,
            dwelling_id=dwelling_of[serial],
            initial_index_l=int(index) % 10**cfg.register_digits,
            reporting_interval_s=cfg.interval_s,
        )
        for serial, index in zip(fleet.serials, initial, strict=True)
    ]
    result = await registry_service.register_meters(session, meters=meters)
    logins = []
    if mqtt is not None and mqtt.password_file is not None:
        logins = registry_credentials.write_credentials(mqtt, serials=list(fleet.serials))
    return FleetRegistration(
        zone_id=zone.id,
        buildings_created=len(missing),
        dwellings_created=dwellings_created,
        meters_created=result.created,
        meters_existing=result.existing,
        credentials={login.serial: login.password for login in logins},
    )
