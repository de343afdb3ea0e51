"""Countries a deployment serves, the languages its messages and pages speak, and the calendar
day it is in each: an invoice's date, its due date and a tariff's first day are the country's
days, not UTC's (from 14:00 UTC it is already tomorrow in Port Moresby)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import String, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base, pg_enum


class Language(StrEnum):
    EN = "en"
    FR = "fr"
    TPI = "tpi"


class Country(Base):
    __tablename__ = "country"

    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    currency: Mapped[str] = mapped_column(String(3))
    timezone: Mapped[str] = mapped_column(String(64))
    language: Mapped[Language] = mapped_column(pg_enum(Language, "language"))
    sms_provider: Mapped[str] = mapped_column(String(32), server_default="console")


async def country_days(
    session: AsyncSession, *, countries: Iterable[str] | None, at: datetime
) -> dict[str, date]:
    """Each known country's (every served country's when None) calendar day at the instant
    ``at``, in its own time zone."""
    rows = await session.execute(
        text(
            "SELECT code, (CAST(:at AS timestamptz) AT TIME ZONE timezone)::date AS day"
            " FROM country WHERE CAST(:codes AS text[]) IS NULL"
            " OR code = ANY(CAST(:codes AS text[]))"
        ),
        {"at": at, "codes": None if countries is None else list(countries)},
    )
    return {str(row.code): row.day for row in rows}
