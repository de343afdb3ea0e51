"""The administrator's jobs panel in a real browser, with a real worker: a close started from
the page is followed to done with its progress, and a failed job is retried from its button."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.async_api import Page, expect
from psycopg.types.json import Jsonb

from tests.billing.arrange import P0, P1, World
from tests.jobs.workers import quiet_worker_env
from tests.web.conftest import screenshots, sign_in

pytestmark = [
    pytest.mark.services,
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.asyncio(loop_scope="session"),
]

H = timedelta(hours=1)
# A worker picks a job up within a few seconds, the page polls every 3 s; a close of a few
# dwellings takes seconds. Generous for a loaded machine.
JOB_TIMEOUT_MS = 60_000


class TestJobsPanel:
    async def test_a_close_started_from_the_page_is_followed_to_done(
        self, page: Page, db, make_user, database_url, start_worker
    ):
        world = World(db)
        for _ in range(3):
            meter = world.meter(world.dwelling())
            world.steady(meter, start=P0 - H, end=P1 + H, litres_per_hour=9)
        admin = make_user("admin", first_name="Ada")
        start_worker(quiet_worker_env(database_url))
        await sign_in(page, admin, expect_path="/operator")
        await page.goto("/admin")
        await expect(page.locator("#jobs-running")).to_contain_text("No job running or waiting.")
        await expect(page.locator("#jobs-failed")).to_contain_text("No failed job.")
        scheduled = page.locator("#jobs-scheduled tbody tr")
        await expect(scheduled.filter(has_text="retry_stalled")).to_have_count(1)

        await page.locator("#period").fill("2026-10")
        await page.get_by_role("button", name="Close the period").click()
        await expect(page.locator("#close-result")).to_contain_text("2026-10: close queued, 1")
        row = page.locator("#jobs-running tbody tr").filter(has_text="close_zone")
        await expect(row).to_have_count(1)
        await expect(row).to_contain_text(f"2026-10 · Zone #{world.zone_id}")
        await expect(row.locator("[data-status='succeeded']")).to_have_text(
            "done", timeout=JOB_TIMEOUT_MS
        )
        await expect(row).to_contain_text("3 of 3")
        await expect(row.locator("progress")).to_have_attribute("value", "3")
        invoices = db.execute("SELECT count(*) FROM invoice WHERE status = 'draft'").fetchone()
        assert invoices == (3,)
        await screenshots(page, "admin-jobs-close")

    async def test_a_failed_job_is_retried_from_its_button(
        self, page: Page, db, make_user, database_url, start_worker
    ):
        meters = [{"serial": "WB-WEB-1", "kind": "iot", "installed_at": "2026-02-01T00:00:00+00:00",
                   "unit": "m3", "register_digits": 9, "dwelling_id": None,
                   "initial_index_l": 0, "reporting_interval_s": 3600}]  # fmt: skip
        (import_id,) = db.execute(
            "INSERT INTO meter_import (meters) VALUES (%s) RETURNING id", [Jsonb(meters)]
        ).fetchone()
        # As a worker leaves a job that failed for good: its status, and its error in our log.
        (job_id,) = db.execute(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status, attempts)"
            " VALUES ('default', 'import_meters', %s, 'failed', 1) RETURNING id",
            [Jsonb({"import_id": import_id})],
        ).fetchone()
        db.execute(
            "INSERT INTO job_failure (job_id, attempt, error_type, error)"
            " VALUES (%s, 1, 'OperationalError', 'the database went away')",
            [job_id],
        )
        admin = make_user("admin", first_name="Ada")
        start_worker(quiet_worker_env(database_url))
        await sign_in(page, admin, expect_path="/operator")
        await page.goto("/admin")
        failed = page.locator("#jobs-failed tbody tr")
        await expect(failed).to_have_count(1)
        await expect(failed).to_contain_text(f"#{job_id} import_meters")
        await expect(failed).to_contain_text("OperationalError: the database went away")
        await screenshots(page, "admin-jobs-failed")

        await failed.get_by_role("button", name="Retry").click()
        await expect(page.locator("#status")).to_have_text(f"Job #{job_id} queued again.")
        await expect(page.locator("#jobs-failed")).to_contain_text("No failed job.")
        row = page.locator("#jobs-running tbody tr").filter(has_text=f"#{job_id} import_meters")
        await expect(row.locator("[data-status='succeeded']")).to_have_text(
            "done", timeout=JOB_TIMEOUT_MS
        )
        await expect(row).to_contain_text("created: 1, already registered: 0")
        assert db.execute("SELECT count(*) FROM meter WHERE serial = 'WB-WEB-1'").fetchone() == (1,)
        audit = db.execute("SELECT actor_id FROM audit_log WHERE action = 'job.retried'")
        assert audit.fetchall() == [(admin.id,)]
        await screenshots(page, "admin-jobs-retried")
