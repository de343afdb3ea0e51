"""The SQLAlchemy declarative base every package registers its tables on.

One ``Base.metadata`` describes the whole schema, so Alembic compares it with the database in
one go (``core/migrations/env.py`` imports every models module).
"""

from __future__ import annotations

from enum import StrEnum

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
