"""`POST /meters/import` checks the file at once (caps, every bad line), then a real worker
registers it in batches; `GET /jobs/{id}` shows the progress and the counts."""

import pytest

from jobs import requested
from tests.jobs.workers import quiet_worker_env, read_logs, wait_for_jobs

pytestmark = [pytest.mark.services, pytest.mark.slow]


def meter_file(serials: list[str]) -> str:
    return "serial,kind\n" + "".join(f"{serial},iot\n" for serial in serials)


async def upload(client, text: str):
    return await client.post("/meters/import", files={"file": ("meters.csv", text, "text/csv")})


class TestImportJob:
    async def test_a_file_is_registered_in_batches_by_the_job_known_serials_kept(
        self, admin_client, db, database_url, start_worker, tmp_path
    ):
        db.execute(
            "INSERT INTO meter (serial, kind, installed_at) VALUES ('WB-IMP-00000', 'iot', now())"
        )
        count = requested.IMPORT_BATCH + 7
        answer = await upload(admin_client, meter_file([f"WB-IMP-{n:05d}" for n in range(count)]))
        assert answer.status_code == 202, answer.text
        queued = answer.json()
        assert queued["meters"] == count
        waiting = (await admin_client.get(f"/jobs/{queued['job_id']}")).json()
        assert (waiting["task"], waiting["status"], waiting["result"]) == (
            "import_meters",
            "todo",
            None,
        )

        start_worker(quiet_worker_env(database_url))
        (job,) = await wait_for_jobs(admin_client, [queued["job_id"]], read_logs(tmp_path))
        assert job["progress"] == {"done": count, "total": count}
        assert job["result"] == {"created": count - 1, "existing": 1}
        stored = db.execute("SELECT count(*) FROM meter WHERE serial LIKE 'WB-IMP-%'").fetchone()
        assert stored == (count,)
        # The file is not kept once registered.
        assert db.execute("SELECT count(*) FROM meter_import").fetchone() == (0,)

    async def test_bad_lines_and_unknown_dwellings_are_a_422_before_any_job(self, admin_client, db):
        bad = await upload(admin_client, "serial,kind\nWB-OK-1,iot\na/b,iot\nWB-OK-2,gas\n")
        assert bad.status_code == 422
        assert "line 3" in bad.json()["detail"]
        assert "line 4" in bad.json()["detail"]
        unknown = await upload(admin_client, "serial,kind,dwelling_id\nWB-OK-3,iot,999999\n")
        assert (unknown.status_code, unknown.json()["detail"]) == (
            422,
            "dwellings [999999] do not exist",
        )
        assert db.execute("SELECT count(*) FROM procrastinate_jobs").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM meter_import").fetchone() == (0,)
