"""`POST /jobs/{id}/retry` with a real worker: a job that failed for good runs again, and
succeeds once what it lacked is there."""

import pytest
from psycopg.types.json import Jsonb

from tests.jobs.workers import quiet_worker_env, read_logs, wait_for_async, wait_for_jobs

pytestmark = [pytest.mark.services, pytest.mark.slow]


class TestRetry:
    async def test_a_failed_import_retried_once_its_file_is_there_succeeds(
        self, admin_client, db, database_url, start_worker, tmp_path
    ):
        answer = await admin_client.post(
            "/meters/import", files={"file": ("m.csv", "serial,kind\nWB-RETRY-1,iot\n")}
        )
        job_id = answer.json()["job_id"]
        # The file goes missing before the worker runs (as after an operator's clean-up).
        kept = db.execute("SELECT id, meters FROM meter_import").fetchone()
        db.execute("DELETE FROM meter_import")
        start_worker(quiet_worker_env(database_url, retry_attempts="0"))
        logs = read_logs(tmp_path)

        async def failed() -> bool:
            job = (await admin_client.get(f"/jobs/{job_id}")).json()
            return bool(job["status"] == "failed")

        await wait_for_async(failed, "the import to fail", logs)
        job = (await admin_client.get(f"/jobs/{job_id}")).json()
        assert job["error"] == (
            f"MeterImportNotFound: meter import {kept[0]} does not exist (done already?)"
        )

        db.execute(
            "INSERT INTO meter_import (id, meters) VALUES (%s, %s)", [kept[0], Jsonb(kept[1])]
        )
        retried = await admin_client.post(f"/jobs/{job_id}/retry")
        assert retried.status_code == 202, retried.text
        (job,) = await wait_for_jobs(admin_client, [job_id], logs)
        assert job["result"] == {"created": 1, "existing": 0}
        assert [f["attempt"] for f in job["failures"]] == [1]
