"""GET /jobs and /jobs/{id}: procrastinate's jobs with our failure log, for administrators."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from accounts.models import Role, User
from accounts.passwords import hash_password
from accounts.tokens import TokenType, encode_token
from core.config_jobs import JobsSettings
from core.countries import Language
from jobs import repository
from jobs import service as job_service
from jobs.app import make_app, schedule

pytestmark = pytest.mark.services


async def defer(settings, *calls: tuple[str, int]) -> list[int]:
    """Defer (task, timestamp) jobs as the schedule would, without a worker to run them."""
    app = make_app(settings)
    ids = []
    async with app.open_async():
        for task, timestamp in calls:
            ids.append(await app.tasks[task].defer_async(timestamp=timestamp))
        await repository.record_failure(
            app.connector, job_id=ids[0], attempt=1, error_type="OperationalError", error="down"
        )
        await repository.record_failure(
            app.connector, job_id=ids[0], attempt=2, error_type="TimeoutError", error="slow"
        )
    return ids


class TestSchedule:
    def test_each_periodic_task_with_its_next_run_soonest_first(self):
        now = datetime(2026, 12, 7, 21, 30, 15, tzinfo=UTC)
        ahead = job_service.schedule_ahead(JobsSettings(scan_cron="0 3 * * *"), now=now)
        assert {s.task for s in ahead} == set(schedule(JobsSettings())) | {"retry_stalled"}
        assert ahead[0].next_at == datetime(2026, 12, 7, 21, 31, tzinfo=UTC)
        assert [s.next_at for s in ahead] == sorted(s.next_at for s in ahead)
        (scan,) = [s for s in ahead if s.task == "scan"]
        assert (scan.cron, scan.next_at) == ("0 3 * * *", datetime(2026, 12, 8, 3, tzinfo=UTC))

    async def test_the_api_lists_the_schedule(self, admin_client):
        answer = await admin_client.get("/jobs/schedule")
        assert answer.status_code == 200, answer.text
        tasks = [item["task"] for item in answer.json()]
        assert "retry_stalled" in tasks
        assert "scan" in tasks


class TestJobs:
    async def test_lists_newest_first_with_filters_and_pages(self, admin_client, settings):
        scan, rollups, alerts = await defer(
            settings, ("scan", 1_700_000_000), ("rollups", 1_700_000_060), ("alerts", 1_700_000_120)
        )
        page = (await admin_client.get("/jobs", params={"limit": 2})).json()
        assert [job["id"] for job in page["items"]] == [alerts, rollups]
        assert page["next_before_id"] == rollups
        rest = (await admin_client.get("/jobs", params={"limit": 2, "before_id": rollups})).json()
        assert [job["id"] for job in rest["items"]] == [scan]
        assert rest["next_before_id"] is None
        only = (await admin_client.get("/jobs", params={"task": "scan", "status": "todo"})).json()
        assert [job["id"] for job in only["items"]] == [scan]
        first = only["items"][0]
        assert first["status"] == "todo"
        assert first["args"] == {"timestamp": 1_700_000_000}
        assert first["deferred_at"] is not None
        assert first["error"] == "TimeoutError: slow"
        none = await admin_client.get("/jobs", params={"status": "failed"})
        assert none.json()["items"] == []

    async def test_one_job_shows_each_failed_attempt(self, admin_client, settings):
        (scan,) = await defer(settings, ("scan", 1_700_000_000))
        response = await admin_client.get(f"/jobs/{scan}")
        assert response.status_code == 200
        job = response.json()
        assert job["task"] == "scan"
        assert job["queue"] == "default"
        assert [(f["attempt"], f["error_type"], f["error"]) for f in job["failures"]] == [
            (1, "OperationalError", "down"),
            (2, "TimeoutError", "slow"),
        ]

    async def test_an_unknown_job_is_404(self, admin_client):
        response = await admin_client.get("/jobs/999999")
        assert response.status_code == 404
        assert response.json()["error"] == "NotFound"

    async def test_the_404_is_documented(self, admin_client):
        # Found by the whole-API fuzz: the answer was right, the schema did not list it.
        spec = (await admin_client.get("/openapi.json")).json()
        assert "404" in spec["paths"]["/jobs/{job_id}"]["get"]["responses"]

    async def test_an_unknown_status_is_refused(self, admin_client):
        response = await admin_client.get("/jobs", params={"status": "lost"})
        assert response.status_code == 422

    async def test_only_administrators_see_jobs(self, client, session, settings):
        manager = User(
            phone="+237650000002",
            first_name="Mo",
            last_name="Manager",
            language=Language.EN,
            role=Role.MANAGER,
            is_active=True,
            password_hash=hash_password("manager password"),
        )
        session.add(manager)
        await session.commit()
        token = encode_token(manager, settings=settings, token_type=TokenType.ACCESS).token
        response = await client.get("/jobs", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 403
        assert (await client.get("/jobs")).status_code == 401


def insert_job(db, status: str, *, lock: str = "scan", timestamp: int = 1_700_000_000):
    """A scan tick in ``status``, as a worker would have left it."""
    (job_id,) = db.execute(
        "INSERT INTO procrastinate_jobs (queue_name, task_name, lock, queueing_lock, args, status,"
        " attempts) VALUES ('default', 'scan', %s, %s, %s, %s, 1) RETURNING id",
        [lock, lock, f'{{"timestamp": {timestamp}}}', status],
    ).fetchone()
    return job_id


def job_row(db, job_id: int):
    return db.execute(
        "SELECT status::text, attempts, args, queueing_lock FROM procrastinate_jobs WHERE id = %s",
        [job_id],
    ).fetchone()


class TestRetry:
    async def test_a_failed_job_waits_again_with_one_more_attempt_and_is_audited(
        self, admin_client, db
    ):
        job_id = insert_job(db, "failed")
        answer = await admin_client.post(f"/jobs/{job_id}/retry")
        assert answer.status_code == 202, answer.text
        assert answer.json() == {"job_id": job_id, "retried_id": job_id}
        assert job_row(db, job_id) == ("todo", 2, {"timestamp": 1_700_000_000}, "scan")
        audit = db.execute(
            "SELECT action, target_type, target_id FROM audit_log WHERE action = 'job.retried'"
        ).fetchall()
        assert audit == [("job.retried", "job", str(job_id))]

    async def test_a_cancelled_job_is_deferred_again_with_its_arguments_and_locks(
        self, admin_client, db
    ):
        job_id = insert_job(db, "cancelled")
        answer = await admin_client.post(f"/jobs/{job_id}/retry")
        assert answer.status_code == 202, answer.text
        new_id = answer.json()["job_id"]
        assert new_id != job_id
        assert job_row(db, new_id) == ("todo", 0, {"timestamp": 1_700_000_000}, "scan")
        assert job_row(db, job_id)[0] == "cancelled"

    @pytest.mark.parametrize("status", ["todo", "doing", "succeeded"])
    async def test_a_job_that_did_not_fail_is_a_409(self, admin_client, db, status):
        job_id = insert_job(db, status)
        answer = await admin_client.post(f"/jobs/{job_id}/retry")
        assert answer.status_code == 409
        assert answer.json() == {
            "error": "JobNotRetryable",
            "detail": f"job {job_id} is {status}: only a failed or cancelled job can be retried",
        }
        assert job_row(db, job_id)[0] == status

    async def test_a_failed_job_whose_work_already_waits_is_a_409(self, admin_client, db):
        failed = insert_job(db, "failed")
        insert_job(db, "todo", timestamp=1_700_000_060)
        answer = await admin_client.post(f"/jobs/{failed}/retry")
        assert answer.status_code == 409
        assert answer.json()["detail"] == (
            f"job {failed} cannot be queued again:"
            " the same work already waits in the queue (lock scan)"
        )
        assert job_row(db, failed)[0] == "failed"

    async def test_an_unknown_job_is_a_404(self, admin_client):
        answer = await admin_client.post("/jobs/999999/retry")
        assert (answer.status_code, answer.json()["error"]) == (404, "JobNotFound")
