"""GET /jobs and /jobs/{id}: procrastinate's jobs with our failure log, for administrators."""

from __future__ import annotations

import pytest

from accounts.models import Role, User
from accounts.passwords import hash_password
from accounts.tokens import TokenType, encode_token
from core.countries import Language
from jobs import repository
from jobs.app import make_app

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
