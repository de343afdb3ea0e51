"""Late data finds its invoice: a reading that lands after a month was issued, and changes its
volume, gets its regularisation proposed by the `late_data` job in a real worker, once."""

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from billing.close.period import parse_period
from billing.close.service import close_period
from billing.invoices import service as invoicing
from jobs.app import make_app
from tests.billing.arrange import P0, P1, World
from tests.jobs.workers import quiet_worker_env, read_logs, wait_for

pytestmark = [pytest.mark.services, pytest.mark.slow]

H = timedelta(hours=1)
OCTOBER = parse_period("2026-10")
# The worker rechecks issued months back this far from its clock: October 2026 stays in reach
# whatever today's date (`scripts/test-clock +400d`).
LATE = {"late_data_settle_s": "0", "late_data_lookback_days": "36500"}


async def defer_late_data(settings, timestamp: int) -> int:
    app = make_app(settings)
    async with app.open_async():
        return await app.tasks["late_data"].defer_async(timestamp=timestamp)


async def issued_month(world: World, session) -> tuple[int, int, int]:
    """October closed and issued for one dwelling whose closing index was interpolated half way
    between the readings around midnight; returns (meter, dwelling, last index before it)."""
    meter = world.meter(dwelling := world.dwelling())
    last = world.steady(meter, start=P0 - H, end=P1 - H, litres_per_hour=9)
    world.readings(meter, [(P1 + H, last + 1_000)])
    await close_period(session, period=OCTOBER)
    await invoicing.issue_period(
        session,
        period=OCTOBER,
        at=datetime(2026, 11, 24, 8, tzinfo=UTC),
        issued_by=None,
        grace_days=5,
        payment_days=15,
    )
    await session.commit()
    return meter, dwelling, last


def succeeded(db, job_id: int, logs) -> bool:
    row = db.execute("SELECT status::text FROM procrastinate_jobs WHERE id = %s", [job_id])
    status = row.fetchone()
    assert status != ("failed",), logs()
    return bool(status == ("succeeded",))


class TestLateData:
    async def test_a_late_reading_in_an_issued_month_is_proposed_once_as_a_regularisation(
        self, admin_client, db, session, settings, database_url, start_worker, tmp_path
    ):
        world = World(db)
        meter, dwelling, last = await issued_month(world, session)
        [(billed,)] = db.execute(
            "SELECT volume_l FROM invoice WHERE dwelling_id = %s", [dwelling]
        ).fetchall()

        # The reading at midnight, uploaded late: 437 L more than the interpolated index.
        world.readings(meter, [(P1, last + 500 + 437)])
        first = await defer_late_data(settings, 1_800_000_000)
        start_worker(quiet_worker_env(database_url, **LATE))
        logs = read_logs(tmp_path)

        wait_for(lambda: succeeded(db, first, logs), "the late-data job", logs)
        [proposal] = (await admin_client.get("/billing/regularisations")).json()
        assert (proposal["dwelling_id"], proposal["volume_l"]) == (dwelling, 437)
        assert proposal["status"] == "draft"
        closed_at = db.execute("SELECT last_closed_at FROM billing_period").fetchone()

        second = await defer_late_data(settings, 1_800_000_060)
        wait_for(lambda: succeeded(db, second, logs), "the second late-data job", logs)
        again = (await admin_client.get("/billing/regularisations")).json()
        assert [p["id"] for p in again] == [proposal["id"]]
        # Nothing new arrived: the month was not even closed again.
        assert db.execute("SELECT last_closed_at FROM billing_period").fetchone() == closed_at
        assert db.execute(
            "SELECT volume_l FROM invoice WHERE dwelling_id = %s AND kind = 'periodic'",
            [dwelling],
        ).fetchone() == (billed,)

    async def test_readings_still_waiting_for_the_rollups_wait_for_the_next_run(
        self, admin_client, db, session, settings, database_url, start_worker, tmp_path
    ):
        world = World(db)
        meter, _, last = await issued_month(world, session)
        # The late reading lands, and a refresher claims its meter but has not committed yet
        # (held here): the rollups lag behind it.
        with db.transaction():
            db.execute(
                "INSERT INTO reading (meter_id, time, index_l, source) VALUES (%s, %s, %s, 'iot')",
                [meter, P1, last + 500 + 437],
            )
            db.execute("INSERT INTO rollup_pending (meter_id, since) VALUES (%s, %s)", [meter, P1])
        with psycopg.connect(database_url) as refresher:
            refresher.execute(
                "SELECT 1 FROM rollup_pending WHERE meter_id = %s FOR UPDATE", [meter]
            )
            first = await defer_late_data(settings, 1_800_000_000)
            start_worker(quiet_worker_env(database_url, **LATE))
            logs = read_logs(tmp_path)
            wait_for(lambda: succeeded(db, first, logs), "the late-data job", logs)
            assert (await admin_client.get("/billing/regularisations")).json() == []
            refresher.rollback()
        second = await defer_late_data(settings, 1_800_000_060)
        wait_for(lambda: succeeded(db, second, logs), "the second late-data job", logs)
        [proposal] = (await admin_client.get("/billing/regularisations")).json()
        assert proposal["volume_l"] == 437
