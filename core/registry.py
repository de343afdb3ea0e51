"""The asset registry: zones, buildings, dwellings and meters, as operators manage them.

Every path that adds meters (the API, ``waterbill meters import``, the simulator) goes through
``register_meters``, so the rules below hold whoever registers them.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.exceptions import Conflict, InvalidInput, NotFound
from core.models import (
    Building,
    Dwelling,
    DwellingType,
    Meter,
    MeterKind,
    MeterUnit,
    RollupPending,
    Zone,
)

# Serials appear in MQTT topics: no '/', '+' or '#', and short enough for a topic level.
SERIAL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$"
SERIAL_RE = re.compile(SERIAL_PATTERN)


class MeterNotFound(NotFound):
    pass


class MeterAlreadyRemoved(Conflict):
    pass


class InvalidMeterFile(InvalidInput):
    pass


@dataclass(frozen=True)
class MeterRegistration:
    serial: str
    kind: MeterKind
    installed_at: datetime
    unit: MeterUnit = MeterUnit.CUBIC_METRE
    register_digits: int = 9
    dwelling_id: int | None = None
    initial_index_l: int = 0
    reporting_interval_s: int = 3600

    def problems(self) -> list[str]:
        """What is wrong with this registration, in words an operator can act on."""
        found = []
        if not SERIAL_RE.match(self.serial):
            found.append(
                f"serial {self.serial!r} must be 3-64 letters, digits, '.', '_' or '-'"
                " and start with a letter or digit"
            )
        if not 4 <= self.register_digits <= 12:
            found.append(f"register_digits {self.register_digits} must be between 4 and 12")
        if not 0 <= self.initial_index_l < 10**self.register_digits:
            found.append(
                f"initial_index_l {self.initial_index_l} does not fit"
                f" a {self.register_digits}-digit register"
            )
        if self.reporting_interval_s <= 0:
            found.append("reporting_interval_s must be positive")
        if self.installed_at.tzinfo is None:
            found.append("installed_at must carry a time zone offset")
        return found


@dataclass(frozen=True)
class RegistrationResult:
    created: int
    existing: int


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
    created = 0
    # Chunks keep each statement under PostgreSQL's 65535 bind parameters.
    for start in range(0, len(rows), 5000):
        chunk = rows[start : start + 5000]
        statement = (
            insert(Meter)
            .values(chunk)
            .on_conflict_do_nothing(index_elements=[Meter.serial])
            .returning(Meter.id)
        )
        created += len((await session.execute(statement)).all())
    return RegistrationResult(created=created, existing=len(rows) - created)


async def get_meter(session: AsyncSession, *, meter_id: int) -> Meter:
    meter = await session.get(Meter, meter_id)
    if meter is None:
        raise MeterNotFound(f"meter {meter_id} does not exist")
    return meter


async def get_meter_by_serial(session: AsyncSession, *, serial: str) -> Meter:
    meter = await session.scalar(select(Meter).where(Meter.serial == serial))
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
    await session.execute(update(Meter).where(Meter.id == old.id).values(removed_at=at))
    # The old meter's rollups after its removal must go: queue it from the removal time.
    queue = insert(RollupPending).values(meter_id=old.id, since=at)
    await session.execute(
        queue.on_conflict_do_update(
            index_elements=[RollupPending.meter_id],
            set_={"since": func.least(RollupPending.since, queue.excluded.since)},
        )
    )
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


async def create_zone(
    session: AsyncSession, *, country_code: str, code: str, name: str, timezone: str | None = None
) -> Zone:
    zone = Zone(country_code=country_code, code=code, name=name, timezone=timezone)
    session.add(zone)
    await session.flush()
    return zone


async def create_building(
    session: AsyncSession, *, zone_id: int, name: str, address: str = ""
) -> Building:
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
    occupants: int | None = None,
) -> Dwelling:
    dwelling = Dwelling(
        building_id=building_id,
        reference=reference,
        dwelling_type=dwelling_type,
        occupants=occupants,
    )
    session.add(dwelling)
    await session.flush()
    return dwelling


METER_CSV_COLUMNS = (
    "serial",
    "kind",
    "installed_at",
    "unit",
    "register_digits",
    "dwelling_id",
    "initial_index_l",
    "reporting_interval_s",
)
REQUIRED_CSV_COLUMNS = {"serial", "kind"}


def parse_meter_csv(text: str, *, now: datetime | None = None) -> list[MeterRegistration]:
    """Read an operator's meter file; every bad line is reported with its number.

    Columns (header required): serial, kind, and optionally installed_at (RFC 3339, default now),
    unit, register_digits, dwelling_id, initial_index_l, reporting_interval_s.

    Raises:
        InvalidMeterFile: with one message per bad line.
    """
    reader = csv.DictReader(io.StringIO(text))
    header = set(reader.fieldnames or [])
    missing = REQUIRED_CSV_COLUMNS - header
    unknown = header - set(METER_CSV_COLUMNS)
    if missing or unknown:
        raise InvalidMeterFile(
            "header: "
            + "; ".join(
                [f"missing column {c!r}" for c in sorted(missing)]
                + [f"unknown column {c!r}" for c in sorted(unknown)]
            )
        )
    now = now or datetime.now(UTC)
    meters: list[MeterRegistration] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    for line_no, row in enumerate(reader, start=2):
        try:
            meter = _meter_from_row(row, now)
        except (ValueError, KeyError) as exc:
            errors.append(f"line {line_no}: {exc}")
            continue
        errors.extend(f"line {line_no}: {problem}" for problem in meter.problems())
        if meter.serial in seen:
            errors.append(
                f"line {line_no}: serial {meter.serial!r} repeats line {seen[meter.serial]}"
            )
        seen.setdefault(meter.serial, line_no)
        meters.append(meter)
    if errors:
        raise InvalidMeterFile("; ".join(errors))
    return meters


def _meter_from_row(row: dict[str, str | None], now: datetime) -> MeterRegistration:
    def field(name: str) -> str:
        return (row.get(name) or "").strip()

    def integer(name: str, default: int) -> int:
        value = field(name)
        if not value:
            return default
        if not value.lstrip("-").isdigit():
            raise ValueError(f"{name} {value!r} is not a whole number")
        return int(value)

    kind_text = field("kind").lower()
    try:
        kind = MeterKind(kind_text)
    except ValueError:
        choices = ", ".join(k.value for k in MeterKind)
        raise ValueError(f"kind {kind_text!r} is not one of {choices}") from None
    unit_text = field("unit").lower() or MeterUnit.CUBIC_METRE.value
    try:
        unit = MeterUnit(unit_text)
    except ValueError:
        raise ValueError(f"unit {unit_text!r} is not one of m3, l") from None
    installed_text = field("installed_at")
    try:
        installed_at = datetime.fromisoformat(installed_text) if installed_text else now
    except ValueError:
        raise ValueError(f"installed_at {installed_text!r} is not an RFC 3339 time") from None
    return MeterRegistration(
        serial=field("serial"),
        kind=kind,
        unit=unit,
        installed_at=installed_at,
        register_digits=integer("register_digits", 9),
        dwelling_id=integer("dwelling_id", 0) or None,
        initial_index_l=integer("initial_index_l", 0),
        reporting_interval_s=integer("reporting_interval_s", 3600),
    )
