"""Apply the Alembic migrations from code: ``waterbill migrate``, the tests, ``waterbill up``."""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from psycopg import sql

from core.config import Settings, sqlalchemy_url

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url))
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s-%%(slug)s")
    return config


def ensure_database(database_url: str) -> bool:
    """Create the database named in the URL if it does not exist; True when it was created."""
    info = psycopg.conninfo.conninfo_to_dict(database_url)
    dbname = str(info.get("dbname") or "postgres")
    admin_url = psycopg.conninfo.make_conninfo(database_url, dbname="postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        logger.info("created database %s", dbname)
        return True


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Migrate as the owner (``migration_dsn``): the runtime role may not change the schema."""
    ensure_database(settings.migration_dsn)
    command.upgrade(alembic_config(settings.migration_dsn), revision)


def current_revision(database_url: str) -> str | None:
    with psycopg.connect(database_url) as conn:
        table = conn.execute("SELECT to_regclass('alembic_version')").fetchone()
        if table is None or table[0] is None:
            return None
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return None if row is None else str(row[0])
