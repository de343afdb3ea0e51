"""Countries a deployment serves, and the languages its messages and pages speak."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import String
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
