"""Real `waterbill worker` processes against the test database: the schedule runs by itself,
once however many workers there are, and a failing job is retried with backoff, then failed."""

from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from core.config_jobs import JobsSettings
from core.local_services import free_port
from jobs.app import make_app, schedule
from tests.analytics.conftest import Fleet
from tests.jobs.workers import read_logs, wait_for, worker_env

pytestmark = [pytest.mark.services, pytest.mark.slow]

T0 = datetime(2026, 3, 2, tzinfo=UTC)
TASKS = set(schedule(JobsSettings())) | {"retry_stalled"}
# Deferred by the scan, one per partition of the meters (one by default).
CHILDREN = {"scan_partition"}


def job_states(db: psycopg.Connection) -> dict[str, list[str]]:
    states: dict[str, list[str]] = {}
    for task, status in db.execute(
        "SELECT task_name, status::text FROM procrastinate_jobs ORDER BY id"
    ):
        states.setdefault(task, []).append(status)
    return states


class TestSchedule:
    def test_two_workers_run_each_scheduled_job_once_scan_and_rollups_included(
        self, db, database_url, start_worker, tmp_path
    ):
        fleet = Fleet(db)
        meter = fleet.meter(installed_at=T0)
        fleet.readings(meter, [(T0 + timedelta(hours=i), 10 * i) for i in range(1, 25)])
        # Installed and registered two days ago, never heard from: the scan finds it silent.
        db.execute(
            "INSERT INTO meter (serial, kind, installed_at, created_at)"
            " VALUES ('WB-SILENT', 'iot', now() - interval '2 days', now() - interval '2 days')"
        )
        env = worker_env(database_url, scan_cron="* * * * *", rollup_cron="* * * * *")
        # A worker that starts defers each schedule's latest occurrence (catch-up): the scan
        # and the rollups run at once instead of at the next tick.
        workers = [start_worker(env), start_worker(env)]
        logs = read_logs(tmp_path)

        def all_succeeded() -> bool:
            states = job_states(db)
            return set(states) == TASKS | CHILDREN and all(
                s and s[0] == "succeeded" for s in states.values()
            )

        wait_for(all_succeeded, "every scheduled job to succeed", logs)
        wait_for(
            lambda: db.execute("SELECT count(*) FROM procrastinate_workers").fetchone() == (2,),
            "both workers to be running",
            logs,
        )
        assert all(worker.poll() is None for worker in workers), logs()

        rollup = db.execute(
            "SELECT sum(volume_l) FROM meter_daily WHERE meter_id = %s", [meter]
        ).fetchone()
        assert rollup == (240,)
        silent = db.execute(
            "SELECT count(*) FROM incident i JOIN meter m ON m.id = i.meter_id"
            " WHERE m.serial = 'WB-SILENT' AND i.kind = 'silent'"
        ).fetchone()
        assert silent == (1,)
        assert db.execute("SELECT count(*) FROM analytics_watermark").fetchone() != (0,)
        # Both workers deferred the same occurrences: the database kept one job per tick.
        ticks = db.execute(
            "SELECT task_name, count(*), count(DISTINCT args->>'timestamp')"
            " FROM procrastinate_jobs WHERE task_name <> ALL(%s) GROUP BY 1",
            [list(CHILDREN)],
        ).fetchall()
        assert {task for task, _, _ in ticks} == TASKS
        assert [(task, jobs) for task, jobs, distinct in ticks if jobs != distinct] == []


class TestStalled:
    @pytest.mark.parametrize("queued", [False, True], ids=["alone", "same-task-waiting"])
    def test_a_job_left_running_by_a_dead_worker_no_longer_holds_its_task_back(
        self, db, database_url, start_worker, tmp_path, queued
    ):
        # As a SIGKILLed worker leaves it: its heartbeat stopped, its scan still "doing" and
        # holding the scan lock, which keeps every later scan waiting.
        (dead,) = db.execute(
            "INSERT INTO procrastinate_workers (last_heartbeat)"
            " VALUES (now() - interval '1 hour') RETURNING id"
        ).fetchone()
        (stuck,) = db.execute(
            "INSERT INTO procrastinate_jobs"
            " (queue_name, task_name, lock, queueing_lock, args, status, worker_id)"
            " VALUES ('default', 'scan', 'scan', 'scan', '{\"timestamp\": 1700000000}',"
            " 'doing', %s) RETURNING id",
            [dead],
        ).fetchone()
        if queued:  # the next tick already waits behind it, with the same queueing lock
            db.execute(
                "INSERT INTO procrastinate_jobs (queue_name, task_name, lock, queueing_lock, args)"
                " VALUES ('default', 'scan', 'scan', 'scan', '{\"timestamp\": 1700000060}')"
            )
        # Alone: no scan tick of the worker's own to catch up on (29 February only).
        start_worker(worker_env(database_url, **({} if queued else {"scan_cron": "0 0 29 2 *"})))
        logs = read_logs(tmp_path)

        def scans() -> list[str]:
            return [
                status
                for (status,) in db.execute(
                    "SELECT status::text FROM procrastinate_jobs WHERE task_name = 'scan'"
                    " ORDER BY id"
                )
            ]

        # Queued again when it can be; failed when the next tick already waits to do its work.
        expected = ["failed", "succeeded"] if queued else ["succeeded"]
        wait_for(lambda: scans() == expected, "the scans to end as expected", logs)
        lost = db.execute(
            "SELECT attempt, error_type FROM job_failure WHERE job_id = %s", [stuck]
        ).fetchall()
        assert lost == [(1, "WorkerLost")]


class TestFailures:
    async def test_a_failing_job_is_retried_with_backoff_then_failed_with_its_error_shown(
        self, db, database_url, settings, start_worker, admin_client, tmp_path
    ):
        metrics_port = free_port()
        env = worker_env(
            database_url, retry_attempts="2", retry_backoff_s="2", metrics_port=str(metrics_port)
        )
        # Retries are the worker's decision (its settings, above); this app only defers.
        app = make_app(settings)
        async with app.open_async():
            # A job deferred with arguments the task cannot parse (as a caller's bug would).
            job_id = await (
                app.tasks["rollups"]
                .configure(
                    lock="bad-arguments",
                    queueing_lock="bad-arguments",
                    task_kwargs={"timestamp": "yesterday"},
                )
                .defer_async()
            )
        start_worker(env)
        logs = read_logs(tmp_path)

        def failed() -> bool:
            row = db.execute(
                "SELECT status::text FROM procrastinate_jobs WHERE id = %s", [job_id]
            ).fetchone()
            return bool(row == ("failed",))

        wait_for(failed, "the job to fail for good", logs)

        failures = db.execute(
            "SELECT attempt, error_type, failed_at FROM job_failure WHERE job_id = %s"
            " ORDER BY attempt",
            [job_id],
        ).fetchall()
        assert [(attempt, kind) for attempt, kind, _ in failures] == [
            (1, "TypeError"),
            (2, "TypeError"),
            (3, "TypeError"),
        ]
        first_wait = failures[1][2] - failures[0][2]
        second_wait = failures[2][2] - failures[1][2]
        # Exponential: 2 s, then 4 s (plus up to one fetch-poll interval each).
        assert first_wait >= timedelta(seconds=2)
        assert second_wait >= timedelta(seconds=4)

        response = await admin_client.get(f"/jobs/{job_id}")
        assert response.status_code == 200, response.text
        job = response.json()
        assert job["status"] == "failed"
        assert job["task"] == "rollups"
        assert job["attempts"] == 3
        assert "timestamp must be Unix seconds" in job["error"]
        assert [f["attempt"] for f in job["failures"]] == [1, 2, 3]
        listed = await admin_client.get("/jobs", params={"status": "failed"})
        assert [item["id"] for item in listed.json()["items"]] == [job_id]

        # The worker's own /metrics counted each attempt (the periodic rollups succeed).
        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
        assert 'waterbill_job_runs_total{outcome="failed",task="rollups"} 3.0' in metrics
        assert 'waterbill_job_duration_seconds_count{task="rollups"}' in metrics
