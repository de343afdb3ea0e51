"""Alembic environment: one synchronous psycopg connection, URL from the caller or settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

# Every models module, so that Base.metadata holds the whole schema.
import accounts.models  # noqa: F401
import analytics.alerts.models
import analytics.anomalies.models
import analytics.incidents.models
import analytics.vee.models  # noqa: F401
import billing.close.models
import billing.invoices.models
import billing.payments.models
import billing.tariffs.models  # noqa: F401
import core.audit
import core.countries
import core.notifications.models
import core.telemetry  # noqa: F401
import ingest.field.models  # noqa: F401
import registry.absences.models
import registry.models  # noqa: F401
from core.config import get_settings
from core.orm import Base
from jobs.models import LIBRARY_TABLE_PREFIX

config = context.config
url = config.get_main_option("sqlalchemy.url") or get_settings().sqlalchemy_url


def include_name(name: str | None, type_: str, _parent_names: object) -> bool:
    """Leave the job library's tables (created from its own schema) out of autogenerate."""
    return not (type_ == "table" and name is not None and name.startswith(LIBRARY_TABLE_PREFIX))


def run_migrations_online() -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            compare_type=True,
            # The hypertable's internal chunk tables live in their own schemas; leave them out.
            include_schemas=False,
            include_name=include_name,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported: run `waterbill migrate`")
run_migrations_online()
