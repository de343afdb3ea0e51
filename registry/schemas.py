"""Request and response bodies of zones, buildings, dwellings, occupants, meters and rounds."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from core.orm import InYears
from registry.models import DwellingType, MeterKind, MeterUnit, Occupancy, OccupantRelation
from wire.topics import SERIAL_PATTERN

Text100 = Annotated[str, Field(min_length=1, max_length=100)]
Id = Annotated[int, Field(ge=1, le=2_147_483_647)]


class OrmOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ZoneIn(BaseModel):
    country_code: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    code: Annotated[str, Field(min_length=1, max_length=32)]
    name: Text100
    timezone: Annotated[str | None, Field(max_length=64)] = None


class ZoneOut(OrmOut):
    id: int
    country_code: str
    code: str
    name: str
    timezone: str | None


class BuildingIn(BaseModel):
    zone_id: Id
    name: Annotated[str, Field(min_length=1, max_length=200)]
    address: Annotated[str, Field(max_length=500)] = ""


class BuildingPatch(BaseModel):
    zone_id: Id | None = None
    name: Annotated[str | None, Field(min_length=1, max_length=200)] = None
    address: Annotated[str | None, Field(max_length=500)] = None


class BuildingOut(OrmOut):
    id: int
    zone_id: int
    name: str
    address: str
    created_at: datetime


class DwellingIn(BaseModel):
    building_id: Id
    reference: Annotated[str, Field(min_length=1, max_length=64)]
    dwelling_type: DwellingType
    occupancy: Occupancy = Occupancy.OCCUPIED
    occupants: Annotated[int | None, Field(ge=0, le=1000)] = None


class DwellingPatch(BaseModel):
    reference: Annotated[str | None, Field(min_length=1, max_length=64)] = None
    dwelling_type: DwellingType | None = None
    occupancy: Occupancy | None = None
    occupants: Annotated[int | None, Field(ge=0, le=1000)] = None


class DwellingOut(OrmOut):
    id: int
    building_id: int
    reference: str
    dwelling_type: DwellingType
    occupancy: Occupancy
    occupants: int | None
    created_at: datetime


class OccupantIn(BaseModel):
    user_id: Id
    relation: OccupantRelation
    start_date: date
    end_date: date | None = None


class OccupantEnd(BaseModel):
    end_date: date


class OccupantOut(OrmOut):
    id: int
    user_id: int
    dwelling_id: int
    relation: OccupantRelation
    start_date: date
    end_date: date | None


class MeterIn(BaseModel):
    serial: Annotated[str, Field(pattern=SERIAL_PATTERN)]
    kind: MeterKind
    installed_at: Annotated[AwareDatetime, InYears]
    unit: MeterUnit = MeterUnit.CUBIC_METRE
    register_digits: Annotated[int, Field(ge=4, le=12)] = 9
    dwelling_id: Id | None = None
    initial_index_l: Annotated[int, Field(ge=0, lt=10**12)] = 0
    reporting_interval_s: Annotated[int, Field(ge=1, le=31 * 86400)] = 3600


class MeterPatch(BaseModel):
    dwelling_id: Id | None = None
    unit: MeterUnit | None = None
    reporting_interval_s: Annotated[int | None, Field(ge=1, le=31 * 86400)] = None


class MeterReplaceIn(BaseModel):
    serial: Annotated[str, Field(pattern=SERIAL_PATTERN)]
    kind: MeterKind
    at: AwareDatetime
    unit: MeterUnit = MeterUnit.CUBIC_METRE
    register_digits: Annotated[int, Field(ge=4, le=12)] = 9
    initial_index_l: Annotated[int, Field(ge=0, lt=10**12)] = 0
    reporting_interval_s: Annotated[int, Field(ge=1, le=31 * 86400)] = 3600


class MeterOut(OrmOut):
    id: int
    serial: str
    kind: MeterKind
    unit: MeterUnit
    register_digits: int
    dwelling_id: int | None
    installed_at: datetime
    removed_at: datetime | None
    initial_index_l: int
    reporting_interval_s: int


class AssignmentIn(BaseModel):
    building_id: Annotated[int | None, Field(ge=1, le=2_147_483_647)] = None
    meter_id: Annotated[int | None, Field(ge=1, le=2_147_483_647)] = None


class AssignmentOut(OrmOut):
    id: int
    technician_id: int
    building_id: int | None
    meter_id: int | None
