import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from pydantic import SecretStr
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
import registry.models  # noqa: F401
from core.config import Settings, sqlalchemy_url
from core.migrate import alembic_config, current_revision, ensure_database, upgrade
from core.orm import Base
from jobs.models import LIBRARY_TABLE_PREFIX

pytestmark = pytest.mark.services


def _ours(name: str | None, type_: str, _parent_names: object) -> bool:
    """Tables the job library creates from its own schema are not in our models."""
    return not (type_ == "table" and name is not None and name.startswith(LIBRARY_TABLE_PREFIX))


def _head() -> str:
    from alembic.script import ScriptDirectory

    from core.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config("postgresql://x/y")).get_current_head()
    assert head is not None
    return head


class TestUpgrade:
    def test_fresh_database_reaches_head(self, empty_database_url):
        upgrade(Settings(database_url=SecretStr(empty_database_url)))
        assert current_revision(empty_database_url) == _head()

    def test_applying_twice_is_a_no_op(self, empty_database_url):
        settings = Settings(database_url=SecretStr(empty_database_url))
        upgrade(settings)
        with psycopg.connect(empty_database_url) as conn:
            before = conn.execute("SELECT count(*) FROM pg_class").fetchone()
        upgrade(settings)
        with psycopg.connect(empty_database_url) as conn:
            after = conn.execute("SELECT count(*) FROM pg_class").fetchone()
        assert before == after
        assert current_revision(empty_database_url) == _head()

    def test_reading_is_a_hypertable(self, database_url):
        with psycopg.connect(database_url) as conn:
            row = conn.execute(
                "SELECT hypertable_name FROM timescaledb_information.hypertables"
                " WHERE hypertable_name = 'reading'"
            ).fetchone()
        assert row == ("reading",)

    def test_tsl_features_follow_the_license(self, database_url):
        with psycopg.connect(database_url) as conn:
            license_row = conn.execute("SHOW timescaledb.license").fetchone()
            compressed = conn.execute(
                "SELECT compression_enabled FROM timescaledb_information.hypertables"
                " WHERE hypertable_name = 'reading'"
            ).fetchone()
        assert license_row is not None
        assert compressed is not None
        assert compressed[0] == (license_row[0] == "timescale")

    def test_models_and_migrations_agree(self, database_url):
        engine = create_engine(sqlalchemy_url(database_url), poolclass=pool.NullPool)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_name": _ours})
            diff = compare_metadata(context, Base.metadata)
        engine.dispose()
        assert diff == []

    def test_the_job_library_tables_are_there_and_left_out_of_the_comparison(self, database_url):
        with psycopg.connect(database_url) as conn:
            tables = {
                row[0]
                for row in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE tablename LIKE 'procrastinate%'"
                )
            }
        assert {"procrastinate_jobs", "procrastinate_periodic_defers"} <= tables
        assert all(not _ours(table, "table", {}) for table in tables)
        assert _ours("job_failure", "table", {})

    def test_downgrade_removes_the_job_library(self, empty_database_url):
        settings = Settings(database_url=SecretStr(empty_database_url))
        upgrade(settings)
        command.downgrade(alembic_config(empty_database_url), "0015")
        with psycopg.connect(empty_database_url) as conn:
            left = conn.execute(
                "SELECT count(*) FROM pg_class WHERE relname LIKE 'procrastinate%'"
            ).fetchone()
            functions = conn.execute(
                "SELECT count(*) FROM pg_proc WHERE proname LIKE 'procrastinate%'"
            ).fetchone()
        assert left == (0,)
        assert functions == (0,)
        upgrade(settings)
        assert current_revision(empty_database_url) == _head()


class TestEnsureDatabase:
    def test_creates_a_missing_database_once(self, local_pg):
        url = local_pg.url("ensure_db_test")
        try:
            assert ensure_database(url) is True
            assert ensure_database(url) is False
        finally:
            with psycopg.connect(local_pg.url(), autocommit=True) as conn:
                conn.execute("DROP DATABASE IF EXISTS ensure_db_test")


class TestReadingDedupe:
    def test_same_meter_time_source_is_stored_once(self, db):
        insert = (
            "INSERT INTO reading (meter_id, time, source, index_l)"
            " VALUES (1, '2026-01-01T00:00Z', 'iot', 100) ON CONFLICT DO NOTHING"
        )
        db.execute(insert)
        db.execute(insert)
        db.execute(
            "INSERT INTO reading (meter_id, time, source, index_l)"
            " VALUES (1, '2026-01-01T00:00Z', 'manual', 101)"
        )
        count = db.execute("SELECT count(*) FROM reading").fetchone()
        assert count == (2,)
