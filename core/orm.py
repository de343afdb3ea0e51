"""The SQLAlchemy declarative base every package registers its tables on.

One ``Base.metadata`` describes the whole schema, so Alembic compares it with the database in
one go (``core/migrations/env.py`` imports every models module).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import AfterValidator
from sqlalchemy import Enum, MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Ids are PostgreSQL integers: inputs beyond this are refused before they reach a query.
MAX_ID = 2**31 - 1
# The same for the few bigint ids (quarantine, procrastinate's jobs).
MAX_BIGINT_ID = 2**63 - 1


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def pg_enum(cls: type[StrEnum], name: str) -> Enum:
    """A PostgreSQL enum type named ``name`` that stores the members' values, not their names."""
    return Enum(cls, name=name, values_callable=lambda e: [m.value for m in e])


# Dates and instants a client sends: years far outside these make date arithmetic overflow in
# Python (9999-12-31 plus a day) or PostgreSQL refuse them (year 1 at +05:00 is 1 BC in UTC).
MIN_YEAR, MAX_YEAR = 1900, 2999


def _in_years(value: Any) -> Any:
    if value is not None and not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"the year must be from {MIN_YEAR} to {MAX_YEAR}")
    return value


InYears = AfterValidator(_in_years)
