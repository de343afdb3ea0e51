"""A zone's close runs in its own transaction under its own lock: a worker killed (SIGKILL) in
the middle of one loses nothing but that run, which another worker finds stalled and runs again,
and a zone held up holds up no other zone."""

import signal
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from tests.billing.arrange import World
from tests.jobs.test_close import arrange
from tests.jobs.workers import close_and_wait, quiet_worker_env, read_logs, wait_for_async

pytestmark = [pytest.mark.services, pytest.mark.slow]

# Beat every second, dead after 3 silent seconds, looked for every 2 seconds: a dead worker's
# job is queued again within seconds instead of minutes. (A periodic run is deferred only within
# `catch_up_s` of its time: the quiet workers' 0 would skip it.)
FAST_STALLED = {
    "heartbeat_s": "1",
    "stalled_after_s": "3",
    "stalled_cron": "* * * * * */2",
    "catch_up_s": "10",
}


@pytest.fixture
def hold(database_url: str) -> Iterator[psycopg.Connection]:
    """A connection of the test's own whose transaction holds row locks a close waits on."""
    with psycopg.connect(database_url) as conn:
        yield conn


def lock_invoice_of(hold: psycopg.Connection, dwelling_id: int) -> None:
    """The dwelling's draft is locked: its zone's re-close measures, prices, then waits."""
    row = hold.execute(
        "SELECT id FROM invoice WHERE dwelling_id = %s FOR UPDATE", [dwelling_id]
    ).fetchone()
    assert row is not None


async def job(client: httpx.AsyncClient, job_id: int) -> dict[str, Any]:
    answer = await client.get(f"/jobs/{job_id}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def queue_close(client: httpx.AsyncClient, zone_id: int) -> int:
    answer = await client.post("/billing/close", json={"period": "2026-10", "zone_ids": [zone_id]})
    assert answer.status_code == 202, answer.text
    return int(answer.json()["jobs"][0]["job_id"])


async def wait_mid_close(client: httpx.AsyncClient, job_id: int, logs: Any) -> None:
    """Running, its dwellings measured (progress told): inside its transaction."""

    async def started() -> bool:
        state = await job(client, job_id)
        return state["status"] == "doing" and state["progress"] is not None

    await wait_for_async(started, f"job {job_id} to be mid-close", logs)


def invoices_per_dwelling(db: psycopg.Connection) -> list[tuple[int, int]]:
    return db.execute("SELECT dwelling_id, count(*) FROM invoice GROUP BY 1 ORDER BY 1").fetchall()


class TestCloseCrash:
    async def test_a_worker_killed_mid_close_leaves_the_job_to_another_one_invoice_each(
        self, admin_client, db, database_url, start_worker, tmp_path, hold
    ):
        world = World(db)
        dwellings = arrange(world, 3)
        logs = read_logs(tmp_path)
        first = start_worker(quiet_worker_env(database_url, **FAST_STALLED))
        await close_and_wait(admin_client, logs, period="2026-10")
        assert invoices_per_dwelling(db) == [(d, 1) for d in sorted(dwellings)]

        lock_invoice_of(hold, dwellings[0])
        job_id = await queue_close(admin_client, world.zone_id)
        await wait_mid_close(admin_client, job_id, logs)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        hold.rollback()

        start_worker(quiet_worker_env(database_url, **FAST_STALLED))

        async def succeeded() -> bool:
            state = await job(admin_client, job_id)
            assert state["status"] != "failed", state
            return bool(state["status"] == "succeeded")

        await wait_for_async(succeeded, "the stalled close to be run again", logs)
        state = await job(admin_client, job_id)
        assert [f["error_type"] for f in state["failures"]] == ["WorkerLost"]
        assert state["progress"] == {"done": 3, "total": 3}
        assert invoices_per_dwelling(db) == [(d, 1) for d in sorted(dwellings)]
        assert db.execute(
            "SELECT count(*) FROM invoice WHERE dwelling_id = ANY(%s) AND status = 'draft'",
            [dwellings],
        ).fetchone() == (3,)

    async def test_a_zone_held_up_does_not_hold_up_another_zone_of_the_same_month(
        self, admin_client, db, database_url, start_worker, tmp_path, hold
    ):
        douala, yaounde = World(db), World(db)
        held, free = arrange(douala, 2), arrange(yaounde, 2)
        logs = read_logs(tmp_path)
        start_worker(quiet_worker_env(database_url, concurrency="2"))
        await close_and_wait(admin_client, logs, period="2026-10")

        lock_invoice_of(hold, held[0])
        waiting = await queue_close(admin_client, douala.zone_id)
        await wait_mid_close(admin_client, waiting, logs)
        other = await queue_close(admin_client, yaounde.zone_id)

        async def other_done() -> bool:
            return bool((await job(admin_client, other))["status"] == "succeeded")

        await wait_for_async(other_done, "the other zone's close, side by side", logs)
        assert (await job(admin_client, waiting))["status"] == "doing"
        hold.rollback()

        async def waiting_done() -> bool:
            return bool((await job(admin_client, waiting))["status"] == "succeeded")

        await wait_for_async(waiting_done, "the held zone's close, once let go", logs)
        assert invoices_per_dwelling(db) == [(d, 1) for d in sorted(held + free)]
