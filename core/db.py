"""Database access: SQLAlchemy engines for relational work, psycopg pools for hot paths.

Both speak psycopg 3 to one DSN. Callers own the lifetime (open in ``lifespan`` or ``main()``).
"""

from __future__ import annotations

from sqlalchemy import Engine, create_engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from core.config import Settings


def make_engine(settings: Settings) -> Engine:
    return create_engine(
        settings.sqlalchemy_url, pool_size=settings.db_pool_size, pool_pre_ping=True
    )


def make_async_engine(settings: Settings) -> AsyncEngine:
    return create_async_engine(
        settings.sqlalchemy_url, pool_size=settings.db_pool_size, pool_pre_ping=True
    )
