"""Relational schema shared by every package (SQLAlchemy 2 typed models).

The telemetry tables (``reading`` hypertable, quarantine, rollups) are declared here too so that
reads can use SQLAlchemy; hot writes go through psycopg COPY in ``ingest``.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Double,
    Enum,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Ids are PostgreSQL integers: inputs beyond this are refused before they reach a query.
MAX_ID = 2**31 - 1


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _enum(cls: type[StrEnum], name: str) -> Enum:
    return Enum(cls, name=name, values_callable=lambda e: [m.value for m in e])


class Language(StrEnum):
    EN = "en"
    FR = "fr"
    TPI = "tpi"


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


class ReadingSource(StrEnum):
    IOT = "iot"
    MANUAL = "manual"
    ESTIMATED = "estimated"


class QuarantineStatus(StrEnum):
    OPEN = "open"
    REPROCESSED = "reprocessed"
    DISCARDED = "discarded"


class Country(Base):
    __tablename__ = "country"

    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    currency: Mapped[str] = mapped_column(String(3))
    timezone: Mapped[str] = mapped_column(String(64))
    language: Mapped[Language] = mapped_column(_enum(Language, "language"))
    sms_provider: Mapped[str] = mapped_column(String(32), server_default="console")


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
    dwelling_type: Mapped[DwellingType] = mapped_column(_enum(DwellingType, "dwelling_type"))
    occupancy: Mapped[Occupancy] = mapped_column(
        _enum(Occupancy, "occupancy"), server_default=Occupancy.OCCUPIED.value
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
    kind: Mapped[MeterKind] = mapped_column(_enum(MeterKind, "meter_kind"))
    unit: Mapped[MeterUnit] = mapped_column(
        _enum(MeterUnit, "meter_unit"), server_default=MeterUnit.CUBIC_METRE.value
    )
    # Digits of the register counted in litres: the index wraps to 0 at 10**register_digits.
    register_digits: Mapped[int] = mapped_column(SmallInteger, server_default="9")
    dwelling_id: Mapped[int | None] = mapped_column(ForeignKey("dwelling.id"))
    installed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    initial_index_l: Mapped[int] = mapped_column(BigInteger, server_default="0")
    reporting_interval_s: Mapped[int] = mapped_column(Integer, server_default="3600")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Reading(Base):
    """One register read; a TimescaleDB hypertable partitioned on ``time``.

    No foreign key to ``meter``: the ingest join already resolves serials to ids, and a per-row
    FK check would cost on the hottest write path. Meters are never deleted, only removed.
    """

    __tablename__ = "reading"

    # The primary key is the dedupe key (a reading delivered twice is stored once, through
    # ON CONFLICT DO NOTHING) and its index serves "a meter's readings over a time range".
    meter_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    source: Mapped[ReadingSource] = mapped_column(
        _enum(ReadingSource, "reading_source"), primary_key=True
    )
    index_l: Mapped[int] = mapped_column(BigInteger)
    flow_lph: Mapped[float | None] = mapped_column(Double)
    battery_pct: Mapped[int | None] = mapped_column(SmallInteger)
    signal_dbm: Mapped[int | None] = mapped_column(SmallInteger)
    # Bit set of device alarms, see wire.alarms.Alarm.
    alarms: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class Quarantine(Base):
    """A message the ingest could not store as readings, kept verbatim with the reason."""

    __tablename__ = "quarantine"
    __table_args__ = (
        # The operator's list: open items by reason, newest first.
        Index("ix_quarantine_status_reason_received", "status", "reason", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    topic: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    reason: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, server_default="")
    serial: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[QuarantineStatus] = mapped_column(
        _enum(QuarantineStatus, "quarantine_status"), server_default=QuarantineStatus.OPEN.value
    )
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class MeterHourly(Base):
    """Volume per meter and local clock hour, from index differences (never summed floats).

    A TimescaleDB hypertable on ``hour_start``. Boundary indexes are interpolated between the
    readings around them and rounded once, so consecutive hours telescope: their volumes sum
    exactly to the index difference, and to the day's volume in ``meter_daily``.
    """

    __tablename__ = "meter_hourly"

    meter_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The instant the local hour starts (local hours of a 25-hour DST day stay distinct).
    hour_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    volume_l: Mapped[int] = mapped_column(BigInteger)
    start_index_l: Mapped[int] = mapped_column(BigInteger)
    end_index_l: Mapped[int] = mapped_column(BigInteger)
    reading_count: Mapped[int] = mapped_column(Integer)
    start_interpolated: Mapped[bool] = mapped_column(Boolean, server_default="false")
    end_interpolated: Mapped[bool] = mapped_column(Boolean, server_default="false")
    has_estimate: Mapped[bool] = mapped_column(Boolean, server_default="false")
    # A decrease that is not a register wrap was counted as zero (VEE decides what it was).
    negative_step: Mapped[bool] = mapped_column(Boolean, server_default="false")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class MeterDaily(Base):
    """Volume per meter and local calendar day: the sum of its local hours in ``meter_hourly``."""

    __tablename__ = "meter_daily"

    meter_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    volume_l: Mapped[int] = mapped_column(BigInteger)
    start_index_l: Mapped[int] = mapped_column(BigInteger)
    end_index_l: Mapped[int] = mapped_column(BigInteger)
    reading_count: Mapped[int] = mapped_column(Integer)
    has_estimate: Mapped[bool] = mapped_column(Boolean, server_default="false")
    start_interpolated: Mapped[bool] = mapped_column(Boolean, server_default="false")
    end_interpolated: Mapped[bool] = mapped_column(Boolean, server_default="false")
    negative_step: Mapped[bool] = mapped_column(Boolean, server_default="false")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class MeterState(Base):
    """Latest reading per meter, maintained with each ingest batch.

    "Last reading of every meter" over the hypertable is a DISTINCT ON over millions of rows; this
    row answers it from one index, and gives ingest the previous index to judge a new one.
    """

    __tablename__ = "meter_state"

    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"), primary_key=True)
    last_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_index_l: Mapped[int] = mapped_column(BigInteger)
    last_received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    readings_total: Mapped[int] = mapped_column(BigInteger, server_default="0")


class RollupPending(Base):
    """Meters whose rollups are stale from ``since`` on: written in each ingest batch's
    transaction, drained by the rollup refresh, so a late reading re-opens only what it touches.
    """

    __tablename__ = "rollup_pending"

    meter_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Role(StrEnum):
    CUSTOMER = "customer"
    MANAGER = "manager"
    TECHNICIAN = "technician"
    ADMIN = "admin"


class CodePurpose(StrEnum):
    ACTIVATION = "activation"
    PASSWORD_RESET = "password_reset"


class OccupantRelation(StrEnum):
    TENANT = "tenant"
    OWNER = "owner"


class User(Base):
    """A person who signs in by phone. Erasure blanks the personal fields and keeps the row, so
    invoices and payments still point at someone for their legal retention."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    # E.164; NULL once erased (UNIQUE allows many NULLs).
    phone: Mapped[str | None] = mapped_column(String(16), unique=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    language: Mapped[Language] = mapped_column(_enum(Language, "language"))
    role: Mapped[Role] = mapped_column(_enum(Role, "user_role"), server_default=Role.CUSTOMER.value)
    is_active: Mapped[bool] = mapped_column(Boolean, server_default="false")
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class SmsCode(Base):
    """A one-time code sent by SMS, kept only as an HMAC under the server key."""

    __tablename__ = "sms_code"
    __table_args__ = (
        # "The live code of this user for this purpose": newest first.
        Index("ix_sms_code_user_purpose_created", "user_id", "purpose", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    purpose: Mapped[CodePurpose] = mapped_column(_enum(CodePurpose, "code_purpose"))
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SmsSendLog(Base):
    """Every code SMS asked for a number, sent or withheld, for the cooldown and daily quota.

    Withheld requests (unknown numbers) are logged too, so the answers look the same whether a
    number is registered or not.
    """

    __tablename__ = "sms_send_log"
    __table_args__ = (
        # Cooldown and quota both read "this number's sends since t".
        Index("ix_sms_send_log_phone_sent", "phone", "sent_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    phone: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[CodePurpose] = mapped_column(_enum(CodePurpose, "code_purpose"))
    delivered: Mapped[bool] = mapped_column(Boolean)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class RefreshToken(Base):
    """An issued refresh token; rotation revokes it, and reuse of a revoked one kills its family."""

    __tablename__ = "refresh_token"
    __table_args__ = (
        # Reuse detection revokes a whole family at once.
        Index("ix_refresh_token_family", "family"),
        # Logout everywhere / erasure revokes a user's tokens.
        Index("ix_refresh_token_user_id", "user_id"),
    )

    jti: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    family: Mapped[UUID] = mapped_column(Uuid)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditLog(Base):
    """Append-only record of who did what, when, from where; a trigger refuses UPDATE/DELETE."""

    __tablename__ = "audit_log"
    __table_args__ = (
        # Investigations read one actor's or one object's history by time.
        Index("ix_audit_log_actor_at", "actor_id", "at"),
        Index("ix_audit_log_target", "target_type", "target_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # No foreign key: the log outlives what it talks about and must never block a change.
    actor_id: Mapped[int | None] = mapped_column(Integer)
    ip: Mapped[str | None] = mapped_column(INET)
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


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
    relation: Mapped[OccupantRelation] = mapped_column(_enum(OccupantRelation, "occupant_relation"))
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
