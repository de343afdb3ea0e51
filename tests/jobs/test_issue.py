"""`POST /billing/issue` queues one `issue_zone` job per zone; a real worker issues the drafts,
sends the new-invoice SMS through the outbox, and `GET /jobs/{id}` shows progress and numbers."""

from datetime import timedelta

import pytest

from tests.billing.arrange import P0, P1, World
from tests.jobs.workers import close_and_wait, quiet_worker_env, read_logs, wait_for_jobs

pytestmark = [pytest.mark.services, pytest.mark.slow]

H = timedelta(hours=1)
PHONES = iter(f"+23767001{n:04d}" for n in range(10_000))


def arrange(world: World, dwellings: int) -> list[int]:
    ids = []
    for _ in range(dwellings):
        dwelling = world.dwelling()
        world.customer(dwelling, phone=next(PHONES))
        world.steady(world.meter(dwelling), start=P0 - H, end=P1 + H, litres_per_hour=9)
        ids.append(dwelling)
    return ids


class TestIssueJobs:
    async def test_an_issue_runs_once_per_zone_numbers_every_draft_and_sends_its_sms(
        self, admin_client, db, database_url, start_worker, tmp_path
    ):
        douala, yaounde = World(db), World(db)
        arrange(douala, 3)
        arrange(yaounde, 2)
        logs = read_logs(tmp_path)
        start_worker(quiet_worker_env(database_url))
        await close_and_wait(admin_client, logs, period="2026-10")
        # Stopped workers would let the second ask find the first jobs waiting; with a worker
        # running the first may be done already, which the queueing lock also allows. Either
        # way each zone's drafts are numbered once.
        body = {"period": "2026-10", "force": True}
        answer = await admin_client.post("/billing/issue", json=body)
        assert answer.status_code == 202, answer.text
        queued = answer.json()
        assert queued["period"] == "2026-10"
        assert [job["zone_id"] for job in queued["jobs"]] == [douala.zone_id, yaounde.zone_id]
        again = await admin_client.post("/billing/issue", json=body)
        assert again.status_code == 202, again.text

        ids = [job["job_id"] for job in queued["jobs"] + again.json()["jobs"]]
        jobs = await wait_for_jobs(admin_client, sorted(set(ids)), logs)
        first = {job["id"]: job for job in jobs}
        douala_job = first[queued["jobs"][0]["job_id"]]
        yaounde_job = first[queued["jobs"][1]["job_id"]]
        assert douala_job["task"] == "issue_zone"
        assert douala_job["args"]["zone_id"] == douala.zone_id
        assert douala_job["progress"] == {"done": 3, "total": 3}
        assert yaounde_job["progress"] == {"done": 2, "total": 2}
        assert sum(job["result"]["issued"] for job in jobs) == 5
        numbers = db.execute(
            "SELECT count(*), count(DISTINCT number) FROM invoice WHERE status = 'issued'"
        ).fetchone()
        assert numbers == (5, 5)
        # Every customer told once, through the outbox, by the worker.
        sms = db.execute(
            "SELECT kind, status::text, count(*) FROM sms_outbox GROUP BY 1, 2"
        ).fetchall()
        assert sms == [("invoice_issued", "sent", 5)]

    async def test_a_second_ask_while_the_jobs_wait_answers_the_same_jobs(self, admin_client, db):
        World(db)
        body = {"period": "2026-10", "force": True}
        first = (await admin_client.post("/billing/issue", json=body)).json()
        again = (await admin_client.post("/billing/issue", json=body)).json()
        assert [j["job_id"] for j in again["jobs"]] == [j["job_id"] for j in first["jobs"]]
        assert [j["already_queued"] for j in first["jobs"] + again["jobs"]] == [False, True]
        locks = db.execute("SELECT queueing_lock FROM procrastinate_jobs").fetchall()
        assert locks == [(f"issue_zone:2026-10:{first['jobs'][0]['zone_id']}",)]

    async def test_an_issue_during_the_grace_is_refused_before_queueing(self, admin_client, db):
        World(db)
        answer = await admin_client.post("/billing/issue", json={"period": "2099-10"})
        assert (answer.status_code, answer.json()["error"]) == (409, "GraceNotOver")
        assert db.execute("SELECT count(*) FROM procrastinate_jobs").fetchone() == (0,)
