"""A real `waterbill worker` connected as a runtime login role (a member of ``waterbill_app``,
made by `waterbill db runtime-role`), as a deployment runs it: every scheduled job succeeds,
retention's ``drop_chunks`` and the scan's temporary tables included."""

import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import sql

from core.config_jobs import JobsSettings
from core.runtime_role import ensure_runtime_login, runtime_url
from jobs.app import schedule
from tests.analytics.conftest import Fleet
from tests.jobs.workers import read_logs, wait_for, worker_env

pytestmark = [pytest.mark.services, pytest.mark.slow]

JAN = datetime(2025, 1, 1, tzinfo=UTC)
TASKS = set(schedule(JobsSettings())) | {"retry_stalled"}


@pytest.fixture
def runtime_database_url(database_url: str) -> Iterator[str]:
    """This test's database as a fresh runtime login role; the role goes at the end (roles are
    cluster-wide), with whatever it came to own in the database first."""
    name = f"rt_{uuid.uuid4().hex[:12]}"
    password = secrets.token_hex(16)
    assert ensure_runtime_login(database_url, name, password)
    yield runtime_url(database_url, name, password)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def job_states(db: psycopg.Connection) -> dict[str, list[str]]:
    states: dict[str, list[str]] = {}
    for task, status in db.execute(
        "SELECT task_name, status::text FROM procrastinate_jobs ORDER BY id"
    ):
        states.setdefault(task, []).append(status)
    return states


class TestWorkerAsTheRuntimeRole:
    def test_every_scheduled_job_succeeds(self, db, runtime_database_url, start_worker, tmp_path):
        fleet = Fleet(db)
        meter = fleet.meter(installed_at=JAN - timedelta(days=1))
        fleet.readings(meter, [(JAN + i * timedelta(hours=6), 100 * i) for i in range(12)])
        fleet.refresh()
        daily = db.execute("SELECT count(*) FROM meter_daily WHERE meter_id = %s", [meter])
        days = daily.fetchone()
        db.execute(
            "INSERT INTO meter (serial, kind, installed_at, created_at)"
            " VALUES ('WB-SILENT', 'iot', now() - interval '2 days', now() - interval '2 days')"
        )
        every_minute = {
            name: "* * * * *" for name in JobsSettings.model_fields if name.endswith("_cron")
        }
        env = worker_env(
            runtime_database_url, **every_minute, catch_up_s="3600", retention_days="30"
        )
        start_worker(env)
        logs = read_logs(tmp_path)

        def all_succeeded() -> bool:
            states = job_states(db)
            failed = {task: s for task, s in states.items() if "failed" in s}
            assert not failed, f"{failed}\n{logs()}"
            return set(states) >= TASKS and all("succeeded" in states[task] for task in TASKS)

        wait_for(all_succeeded, "every scheduled job to succeed as the runtime role", logs)
        users = db.execute(
            "SELECT DISTINCT usename FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
        assert users == [(psycopg.conninfo.conninfo_to_dict(runtime_database_url)["user"],)]
        # Retention dropped the raw chunks the rollups cover; the rollups stay.
        assert db.execute("SELECT count(*) FROM reading").fetchone() == (0,)
        assert (
            daily.connection.execute(
                "SELECT count(*) FROM meter_daily WHERE meter_id = %s", [meter]
            ).fetchone()
            == days
        )
