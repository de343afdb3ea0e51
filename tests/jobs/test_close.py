"""`POST /billing/close` queues one `close_zone` job per zone; a real worker runs them and
`GET /jobs/{id}` follows each to the end, with its progress."""

from datetime import timedelta
from typing import Any

import pytest

from tests.billing.arrange import P0, P1, World
from tests.jobs.workers import quiet_worker_env, read_logs, wait_for_async

pytestmark = [pytest.mark.services, pytest.mark.slow]

H = timedelta(hours=1)


def arrange(world: World, dwellings: int) -> list[int]:
    ids = []
    for _ in range(dwellings):
        meter = world.meter(dwelling := world.dwelling())
        world.steady(meter, start=P0 - H, end=P1 + H, litres_per_hour=9)
        ids.append(dwelling)
    return ids


class TestCloseJobs:
    async def test_a_close_runs_as_jobs_per_zone_followed_to_one_invoice_per_dwelling(
        self, admin_client, db, database_url, start_worker, tmp_path
    ):
        douala, yaounde = World(db), World(db)
        dwellings = arrange(douala, 3) + arrange(yaounde, 2)

        answer = await admin_client.post("/billing/close", json={"period": "2026-10"})
        assert answer.status_code == 202, answer.text
        queued = answer.json()
        assert queued["period"] == "2026-10"
        assert [job["zone_id"] for job in queued["jobs"]] == [douala.zone_id, yaounde.zone_id]
        assert not any(job["already_queued"] for job in queued["jobs"])
        # Asked again before any worker runs: the waiting jobs answer, none is added.
        again = (await admin_client.post("/billing/close", json={"period": "2026-10"})).json()
        assert [job["job_id"] for job in again["jobs"]] == [j["job_id"] for j in queued["jobs"]]
        assert all(job["already_queued"] for job in again["jobs"])
        waiting = (await admin_client.get(f"/jobs/{queued['jobs'][0]['job_id']}")).json()
        assert (waiting["status"], waiting["task"], waiting["progress"]) == (
            "todo",
            "close_zone",
            None,
        )

        start_worker(quiet_worker_env(database_url))
        states: dict[int, dict[str, Any]] = {}

        async def poll() -> bool:
            for job in queued["jobs"]:
                states[job["zone_id"]] = (await admin_client.get(f"/jobs/{job['job_id']}")).json()
            assert not any(s["status"] == "failed" for s in states.values()), states
            return all(s["status"] == "succeeded" for s in states.values())

        await wait_for_async(poll, "the close jobs to succeed", read_logs(tmp_path))
        assert states[douala.zone_id]["progress"] == {"done": 3, "total": 3}
        assert states[yaounde.zone_id]["progress"] == {"done": 2, "total": 2}
        assert states[douala.zone_id]["args"] == {"period": "2026-10", "zone_id": douala.zone_id}
        invoices = db.execute(
            "SELECT dwelling_id, count(*) FROM invoice GROUP BY 1 ORDER BY 1"
        ).fetchall()
        assert invoices == [(d, 1) for d in sorted(dwellings)]

    async def test_unknown_zones_and_bad_periods_are_refused_before_queueing(
        self, admin_client, db
    ):
        bad_period = await admin_client.post("/billing/close", json={"period": "2026-13"})
        assert (bad_period.status_code, bad_period.json()["error"]) == (422, "InvalidPeriod")
        no_zone = await admin_client.post(
            "/billing/close", json={"period": "2026-10", "zone_ids": [999_999]}
        )
        assert (no_zone.status_code, no_zone.json()["detail"]) == (
            404,
            "zones 999999 do not exist",
        )
        assert db.execute("SELECT count(*) FROM procrastinate_jobs").fetchone() == (0,)
