import asyncio
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from billing.close import service as close_service
from billing.close.exceptions import HoldNotReleasable, InvalidPeriod
from billing.close.period import parse_period
from billing.close.service import close_period
from core.db import make_async_engine
from tests.billing.arrange import P0, P1, World, admin

pytestmark = pytest.mark.services

OCTOBER = parse_period("2026-10")
H = timedelta(hours=1)


@pytest.fixture
def world(db) -> World:
    return World(db)


async def close(session: AsyncSession, **kwargs):
    summary = await close_period(session, period=OCTOBER, **kwargs)
    await session.commit()
    return summary


def invoices(db, dwelling_id=None):
    return db.execute(
        "SELECT id, dwelling_id, kind::text, status::text, volume_l, estimated, total_minor"
        " FROM invoice WHERE dwelling_id = coalesce(%s, dwelling_id) ORDER BY id",
        [dwelling_id],
    ).fetchall()


def meters_of(db, invoice_id):
    return db.execute(
        "SELECT meter_id, opening_index_l, opening_estimated, closing_index_l, closing_estimated,"
        " volume_l FROM invoice_meter WHERE invoice_id = %s ORDER BY opening_at",
        [invoice_id],
    ).fetchall()


def holds(db):
    return db.execute(
        "SELECT dwelling_id, reason::text, released_at IS NOT NULL FROM billing_hold ORDER BY id"
    ).fetchall()


class TestParsePeriod:
    def test_a_month_runs_from_its_first_to_its_last_day(self):
        assert (OCTOBER.start.isoformat(), OCTOBER.end.isoformat(), OCTOBER.days) == (
            "2026-10-01",
            "2026-10-31",
            31,
        )

    @pytest.mark.parametrize("label", ["2026-13", "2026/10", "26-10", "2026-00"])
    def test_anything_else_is_refused_by_name(self, label):
        with pytest.raises(InvalidPeriod, match=label):
            parse_period(label)


class TestBoundaries:
    async def test_a_reading_on_each_boundary_is_used_as_read(self, db, world, session):
        dwelling = world.dwelling()
        meter = world.meter(dwelling)
        world.steady(meter, start=P0 - 5 * H, end=P1 + 5 * H, litres_per_hour=10, start_index=500)
        await close(session)
        [(invoice_id, _, kind, status, volume, estimated, _)] = invoices(db)
        hours = int((P1 - P0) / H)
        assert (kind, status, volume, estimated) == ("periodic", "draft", 10 * hours, False)
        assert meters_of(db, invoice_id) == [
            (meter, 550, False, 550 + 10 * hours, False, 10 * hours)
        ]

    async def test_between_readings_the_index_is_interpolated_and_marked(self, db, world, session):
        meter = world.meter(dwelling := world.dwelling())
        world.readings(
            meter,
            [
                (P0 - 30 * timedelta(minutes=1), 1000),
                (P0 + 90 * timedelta(minutes=1), 1200),
                (P1 - 2 * H, 5000),
                (P1 + 2 * H, 5400),
            ],
        )
        await close(session)
        [(invoice_id, *_, estimated, _)] = invoices(db, dwelling)
        # 30 of 120 minutes: 1000 + 200/4; 2 of 4 hours: 5000 + 400/2.
        assert meters_of(db, invoice_id) == [(meter, 1050, True, 5200, True, 4150)]
        assert estimated is True


class TestMeters:
    async def test_a_replacement_mid_period_sums_both_meters(self, db, world, session):
        dwelling = world.dwelling()
        swap = P0 + 10 * 24 * H
        old = world.meter(dwelling, removed_at=swap)
        new = world.meter(dwelling, installed_at=swap, initial_index_l=7)
        world.steady(old, start=P0 - H, end=swap, litres_per_hour=10, start_index=100)
        world.steady(new, start=swap, end=P1 + H, litres_per_hour=20, start_index=7)
        await close(session)
        [(invoice_id, _, _, _, volume, _, _)] = invoices(db, dwelling)
        old_volume, new_volume = 10 * 240, 20 * int((P1 - swap) / H)
        assert meters_of(db, invoice_id) == [
            (old, 110, False, 110 + old_volume, False, old_volume),
            (new, 7, False, 7 + new_volume, False, new_volume),
        ]
        assert volume == old_volume + new_volume

    async def test_a_register_wrap_counts_the_litres_across_zero(self, db, world, session):
        meter = world.meter(dwelling := world.dwelling(), register_digits=6)
        world.readings(
            meter, [(P0, 999_000), (P0 + 24 * H, 999_900), (P0 + 48 * H, 300), (P1, 2_000)]
        )
        await close(session)
        [(invoice_id, _, _, _, volume, _, _)] = invoices(db, dwelling)
        assert volume == 1_000_000 - 999_000 + 2_000
        assert meters_of(db, invoice_id)[0][1:4] == (999_000, False, 2_000)


class TestHolds:
    async def test_a_tampered_register_is_held_and_not_billed(self, db, world, session):
        tampered, fine = world.dwelling(), world.dwelling()
        for dwelling in (tampered, fine):
            meter = world.meter(dwelling)
            world.steady(meter, start=P0 - H, end=P1 + H, litres_per_hour=5)
        world.tamper(meter - 1, at=P0 + 3 * 24 * H, status="resolved")
        summary = await close(session)
        assert [row[1] for row in invoices(db)] == [fine]
        assert holds(db) == [(tampered, "tamper", False)]
        assert (summary.dwellings, summary.drafts, summary.held) == (2, 1, 1)

    async def test_a_false_alarm_or_a_tamper_over_before_the_period_does_not_hold(
        self, db, world, session
    ):
        false_alarm, earlier = world.dwelling(), world.dwelling()
        for dwelling in (false_alarm, earlier):
            meter = world.meter(dwelling)
            world.steady(meter, start=P0 - H, end=P1 + H, litres_per_hour=5)
        world.tamper(meter - 1, at=P0 + 3 * 24 * H, status="closed")
        world.tamper(meter, at=P0 - 48 * H, status="resolved", ended_at=P0 - 24 * H)
        await close(session)
        assert [row[1] for row in invoices(db)] == [false_alarm, earlier]
        assert holds(db) == []

    async def test_a_register_going_back_waits_for_validation(self, db, world, session):
        meter = world.meter(dwelling := world.dwelling())
        world.readings(meter, [(P0, 5_000), (P0 + 24 * H, 4_000), (P1, 9_000)])
        await close(session)
        assert invoices(db) == []
        assert holds(db) == [(dwelling, "negative_step", False)]

    async def test_no_reading_after_the_end_yet_holds_until_late_data_comes(
        self, db, world, session
    ):
        meter = world.meter(dwelling := world.dwelling())
        world.steady(meter, start=P0 - H, end=P1 - 3 * H, litres_per_hour=10)
        await close(session)
        assert (invoices(db), holds(db)) == ([], [(dwelling, "missing_reading", False)])
        world.readings(meter, [(P1 + H, 10 * int((P1 - P0) / H) + 50)])
        await close(session)
        assert len(invoices(db, dwelling)) == 1
        assert holds(db) == [(dwelling, "missing_reading", True)]

    async def test_readings_not_rolled_up_yet_hold_the_meter(self, db, world, session):
        meter = world.meter(dwelling := world.dwelling())
        world.steady(meter, start=P0 - H, end=P1 + H, litres_per_hour=10)
        db.execute("INSERT INTO rollup_pending (meter_id, since) VALUES (%s, %s)", [meter, P0])
        await close(session)
        assert holds(db) == [(dwelling, "rollup_pending", False)]


class TestKinds:
    async def test_a_vacant_dwelling_without_consumption_gets_a_subscription_only_invoice(
        self, db, world, session
    ):
        meter = world.meter(dwelling := world.dwelling(occupancy="vacant"))
        world.readings(meter, [(P0 - 24 * H, 800), (P1 + 24 * H, 800)])
        summary = await close(session)
        [(invoice_id, _, kind, _, volume, _, total)] = invoices(db, dwelling)
        lines = db.execute(
            "SELECT kind, amount_minor FROM invoice_line WHERE invoice_id = %s ORDER BY position",
            [invoice_id],
        ).fetchall()
        # 1000 XAF a month for 31 days, then 19.25 % VAT; no service fee.
        assert (kind, volume, summary.subscription_only) == ("subscription_only", 0, 1)
        assert lines == [("subscription", 1033), ("vat", 199)]
        assert total == 1033 + 199

    async def test_a_vacant_dwelling_that_consumed_is_billed_normally(self, db, world, session):
        meter = world.meter(dwelling := world.dwelling(occupancy="vacant"))
        world.readings(meter, [(P0 - 24 * H, 800), (P1 + 24 * H, 900)])
        await close(session)
        assert invoices(db, dwelling)[0][2] == "periodic"


class TestIdempotence:
    async def test_closing_twice_keeps_one_set_of_invoices(self, db, world, session):
        for _ in range(3):
            meter = world.meter(world.dwelling())
            world.steady(meter, start=P0 - H, end=P1 + H, litres_per_hour=7)
        await close(session)
        first = invoices(db)
        lines = db.execute("SELECT count(*) FROM invoice_line").fetchone()
        await close(session)
        assert invoices(db) == first
        assert db.execute("SELECT count(*) FROM invoice_line").fetchone() == lines

    async def test_two_closes_at_once_give_one_set_of_invoices(self, db, world, settings):
        for _ in range(3):
            meter = world.meter(world.dwelling())
            world.steady(meter, start=P0 - H, end=P1 + H, litres_per_hour=7)
        engine = make_async_engine(settings)

        async def one() -> None:
            async with AsyncSession(engine) as session:
                await close(session)

        await asyncio.gather(one(), one())
        await engine.dispose()
        assert len(invoices(db)) == 3
        assert db.execute("SELECT count(*) FROM billing_period").fetchone() == (1,)

    async def test_a_zone_close_touches_only_its_zone(self, db, world, session):
        other = World(db)
        for w in (world, other):
            meter = w.meter(w.dwelling())
            w.steady(meter, start=P0 - H, end=P1 + H, litres_per_hour=7)
        summary = await close(session, zone_ids=[other.zone_id])
        assert summary.drafts == 1
        [(_, dwelling_id, *_)] = invoices(db)
        assert db.execute(
            "SELECT zone_id FROM dwelling JOIN building b ON b.id = building_id"
            " WHERE dwelling.id = %s",
            [dwelling_id],
        ).fetchone() == (other.zone_id,)


class TestHoldReview:
    async def test_a_reviewed_tamper_hold_is_billed_at_the_next_close(self, db, world, session):
        meter = world.meter(dwelling := world.dwelling())
        world.steady(meter, start=P0 - H, end=P1 + H, litres_per_hour=9)
        world.tamper(meter, at=P0 + 24 * H)
        await close_period(session, period=OCTOBER)
        await session.commit()
        [hold] = await close_service.open_holds(session)
        released = await close_service.release_hold(
            session, hold_id=hold.id, admin_id=admin(db, "+237650000104")
        )
        await session.commit()
        assert released.released_at is not None
        await close_period(session, period=OCTOBER)
        await session.commit()
        assert db.execute("SELECT dwelling_id FROM invoice").fetchall() == [(dwelling,)]
        assert await close_service.open_holds(session) == []

    async def test_other_holds_lift_themselves_with_data(self, db, world, session):
        meter = world.meter(world.dwelling())
        world.readings(meter, [(P0, 5_000), (P0 + 24 * H, 4_000), (P1, 9_000)])
        await close_period(session, period=OCTOBER)
        await session.commit()
        [hold] = await close_service.open_holds(session)
        with pytest.raises(HoldNotReleasable, match="negative_step"):
            await close_service.release_hold(
                session, hold_id=hold.id, admin_id=admin(db, "+237650000105")
            )
