"""The asset registry's tables: zones, buildings, dwellings, meters, who occupies and manages
them, and technicians' rounds.

Links to people point at ``app_user`` by table name only, so the registry never imports accounts
(accounts builds on the registry, not the reverse).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base, pg_enum


class MeterKind(StrEnum):
    MECHANICAL = "mechanical"
    ELECTRONIC = "electronic"
    IOT = "iot"


class MeterUnit(StrEnum):
    """What the register displays; stored indexes are always integer litres."""

    CUBIC_METRE = "m3"
    LITRE = "l"


class DwellingType(StrEnum):
    APARTMENT = "apartment"
    HOUSE = "house"
    COMMERCIAL = "commercial"
    COMMUNAL = "communal"


class Occupancy(StrEnum):
    OCCUPIED = "occupied"
    VACANT = "vacant"


class Zone(Base):
    __tablename__ = "zone"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    country_code: Mapped[str] = mapped_column(ForeignKey("country.code"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    # A zone may sit in another time zone than its country's capital (PNG's Bougainville does).
    timezone: Mapped[str | None] = mapped_column(String(64))


class Building(Base):
    __tablename__ = "building"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zone.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(Text, server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Dwelling(Base):
    __tablename__ = "dwelling"
    __table_args__ = (UniqueConstraint("building_id", "reference"),)

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("building.id"), index=True)
    reference: Mapped[str] = mapped_column(String(64))
    dwelling_type: Mapped[DwellingType] = mapped_column(pg_enum(DwellingType, "dwelling_type"))
    occupancy: Mapped[Occupancy] = mapped_column(
        pg_enum(Occupancy, "occupancy"), server_default=Occupancy.OCCUPIED.value
    )
    occupants: Mapped[int | None] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Meter(Base):
    __tablename__ = "meter"
    __table_args__ = (
        CheckConstraint("register_digits BETWEEN 4 AND 12", name="register_digits"),
        CheckConstraint("removed_at IS NULL OR removed_at > installed_at", name="removal_after"),
        # Billing and dashboards walk a dwelling's meters by date to follow replacements.
        Index("ix_meter_dwelling_installed", "dwelling_id", "installed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    serial: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[MeterKind] = mapped_column(pg_enum(MeterKind, "meter_kind"))
    unit: Mapped[MeterUnit] = mapped_column(
        pg_enum(MeterUnit, "meter_unit"), server_default=MeterUnit.CUBIC_METRE.value
    )
    # Digits of the register counted in litres: the index wraps to 0 at 10**register_digits.
    register_digits: Mapped[int] = mapped_column(SmallInteger, server_default="9")
    dwelling_id: Mapped[int | None] = mapped_column(ForeignKey("dwelling.id"))
    installed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    initial_index_l: Mapped[int] = mapped_column(BigInteger, server_default="0")
    reporting_interval_s: Mapped[int] = mapped_column(Integer, server_default="3600")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class OccupantRelation(StrEnum):
    TENANT = "tenant"
    OWNER = "owner"


class BuildingManager(Base):
    __tablename__ = "building_manager"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    # Scoping asks "who manages this building" as often as "which buildings does she manage".
    building_id: Mapped[int] = mapped_column(
        ForeignKey("building.id"), primary_key=True, index=True
    )


class DwellingOccupant(Base):
    """A tenant or owner of a dwelling over a date range (open-ended while ``end_date`` is NULL)."""

    __tablename__ = "dwelling_occupant"
    __table_args__ = (
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="dates_in_order"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    dwelling_id: Mapped[int] = mapped_column(ForeignKey("dwelling.id"), index=True)
    relation: Mapped[OccupantRelation] = mapped_column(
        pg_enum(OccupantRelation, "occupant_relation")
    )
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)


class TechnicianAssignment(Base):
    """A technician's round: a whole building, or single meters."""

    __tablename__ = "technician_assignment"
    __table_args__ = (
        CheckConstraint("(building_id IS NULL) <> (meter_id IS NULL)", name="building_xor_meter"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    technician_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    building_id: Mapped[int | None] = mapped_column(ForeignKey("building.id"))
    meter_id: Mapped[int | None] = mapped_column(ForeignKey("meter.id"))


class MeterImport(Base):
    """A checked meter file waiting for its import job (``POST /meters/import``); the job
    deletes it once every meter is registered."""

    __tablename__ = "meter_import"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    # The registrations as ``registry.registration.to_json`` writes them.
    meters: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
