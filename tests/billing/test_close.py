import asyncio
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from billing.close import close_period, parse_period
from billing.exceptions import InvalidPeriod
from core.db import make_async_engine
from tests.billing.arrange import P0, P1, World

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

