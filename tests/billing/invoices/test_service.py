import asyncio
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from billing.close.period import parse_period
from billing.close.service import close_period
from billing.invoices import service as invoicing
from billing.invoices.exceptions import DuplicateApproval, GraceNotOver, InvalidTransition
from billing.invoices.models import InvoiceStatus
from core.db import make_async_engine
from tests.billing.arrange import P0, P1, World, admin
from tests.billing.ledger_world import settle

pytestmark = pytest.mark.services

OCTOBER = parse_period("2026-10")
SEPTEMBER = parse_period("2026-09")
H = timedelta(hours=1)
TODAY = date(2026, 11, 24)
# Morning in Douala, where the world's dwellings are: the issue is dated that day.
AT = datetime(2026, 11, 24, 8, tzinfo=UTC)


@pytest.fixture
def world(db) -> World:
    return World(db)


async def issue(session, period=OCTOBER, at=AT, **kwargs):
    summary = await invoicing.issue_period(
        session,
        period=period,
        at=at,
        issued_by=None,
        grace_days=5,
        payment_days=15,
        **kwargs,
    )
    await session.commit()
    return summary


async def closed(session, world, dwellings=3, period=OCTOBER, start=P0, end=P1):
    meters = []
    for _ in range(dwellings):
        meter = world.meter(world.dwelling())
        world.steady(meter, start=start - H, end=end + H, litres_per_hour=9)
        meters.append(meter)
    await close_period(session, period=period)
    await session.commit()
    return meters


def numbers(db):
    return [
        row[0]
        for row in db.execute(
            "SELECT number FROM invoice WHERE number IS NOT NULL ORDER BY number"
        ).fetchall()
    ]


class TestIssue:
    async def test_drafts_get_consecutive_numbers_and_a_due_date(self, db, world, session):
        await closed(session, world)
        summary = await issue(session)
        assert summary.issued == 3
        assert numbers(db) == ["CM-2026-000001", "CM-2026-000002", "CM-2026-000003"]
        assert db.execute(
            "SELECT DISTINCT status::text, issue_date, due_date FROM invoice"
        ).fetchall() == [("issued", TODAY, TODAY + timedelta(days=15))]
        assert (await issue(session)).issued == 0

    async def test_an_invoice_is_dated_by_its_countrys_day(self, db, world, session):
        # 23:30 UTC on 31 December is already New Year's Day in Douala (UTC+1).
        await closed(session, world, dwellings=1)
        await issue(session, at=datetime(2026, 12, 31, 23, 30, tzinfo=UTC))
        assert numbers(db) == ["CM-2027-000001"]
        assert db.execute("SELECT issue_date, due_date FROM invoice").fetchone() == (
            date(2027, 1, 1),
            date(2027, 1, 16),
        )

    async def test_during_the_grace_late_readings_may_still_come(self, world, session):
        await closed(session, world, dwellings=1)
        with pytest.raises(GraceNotOver, match="2026-11-06"):
            await invoicing.issue_period(
                session,
                period=OCTOBER,
                at=datetime(2026, 11, 5, 8, tzinfo=UTC),
                issued_by=None,
                grace_days=5,
                payment_days=15,
            )

    async def test_a_late_reading_in_the_grace_updates_the_draft(self, db, world, session):
        meter = world.meter(dwelling := world.dwelling())
        world.steady(meter, start=P0 - H, end=P1 - 2 * H, litres_per_hour=9)
        world.readings(meter, [(P1 + H, 9 * int((P1 - P0) / H) + 100)])
        await close_period(session, period=OCTOBER)
        await session.commit()
        [(first_id, before)] = db.execute("SELECT id, volume_l FROM invoice").fetchall()
        # A technician's manual read on the boundary replaces the interpolated index.
        world.readings(meter, [(P1, 9 * int((P1 - P0) / H) + 50)], source="manual")
        await close_period(session, period=OCTOBER)
        await session.commit()
        [(same_id, after)] = db.execute(
            "SELECT id, volume_l FROM invoice WHERE dwelling_id = %s", [dwelling]
        ).fetchall()
        assert same_id == first_id
        assert after != before

    async def test_numbers_are_gapless_under_concurrent_issues(self, db, world, settings):
        engine = make_async_engine(settings)
        async with AsyncSession(engine) as session:
            await closed(session, world, dwellings=4)
            await closed(
                session,
                world,
                dwellings=4,
                period=SEPTEMBER,
                start=P0 - 30 * 24 * H,
                end=P0,
            )

        async def one(period) -> None:
            async with AsyncSession(engine) as session:
                await issue(session, period=period)

        await asyncio.gather(one(OCTOBER), one(SEPTEMBER), one(OCTOBER))
        await engine.dispose()
        issued = numbers(db)
        total = db.execute("SELECT count(*) FROM invoice").fetchone()[0]
        assert issued == [f"CM-2026-{n:06d}" for n in range(1, total + 1)]
        assert db.execute(
            "SELECT last_number FROM invoice_number_sequence WHERE country_code = 'CM'"
        ).fetchone() == (total,)

    async def test_a_rolled_back_issue_gives_its_numbers_back(self, db, world, session):
        await closed(session, world, dwellings=2)
        await invoicing.issue_period(
            session, period=OCTOBER, at=AT, issued_by=None, grace_days=5, payment_days=15
        )
        await session.rollback()
        await issue(session)
        assert numbers(db) == ["CM-2026-000001", "CM-2026-000002"]


class TestImmutability:
    async def test_the_database_refuses_changes_to_an_issued_invoice(self, db, world, session):
        await closed(session, world, dwellings=1)
        await issue(session)
        [invoice_id] = [r[0] for r in db.execute("SELECT id FROM invoice").fetchall()]
        for statement in (
            "UPDATE invoice SET total_minor = total_minor + 1, net_minor = net_minor + 1"
            " WHERE id = %s",
            "UPDATE invoice SET number = 'CM-2026-999999' WHERE id = %s",
            "UPDATE invoice SET status = 'draft', number = NULL WHERE id = %s",
            "DELETE FROM invoice WHERE id = %s",
            "UPDATE invoice_line SET amount_minor = 0 WHERE invoice_id = %s",
            "DELETE FROM invoice_line WHERE invoice_id = %s",
            "DELETE FROM invoice_meter WHERE invoice_id = %s",
        ):
            with pytest.raises(psycopg.errors.DatabaseError, match="immutable|only drafts|back to"):
                db.execute(statement, [invoice_id])

    async def test_payment_columns_still_move(self, db, world, session):
        await closed(session, world, dwellings=1)
        await issue(session)
        settle(db, db.execute("SELECT id FROM invoice").fetchone()[0], 100)
        assert db.execute("SELECT status::text, paid_minor FROM invoice").fetchone() == (
            "partially_paid",
            100,
        )


class TestOverdueAndVoid:
    async def test_past_the_due_date_an_open_invoice_is_overdue(self, db, world, session):
        await closed(session, world, dwellings=2)
        await issue(session)
        settle(db, db.execute("SELECT min(id) FROM invoice").fetchone()[0])
        assert await invoicing.mark_overdue(session, today=TODAY + timedelta(days=15)) == 0
        assert await invoicing.mark_overdue(session, today=TODAY + timedelta(days=16)) == 1
        await session.commit()
        assert [r[0] for r in db.execute("SELECT status::text FROM invoice ORDER BY id")] == [
            "paid",
            "overdue",
        ]

    async def test_overdue_starts_at_the_countrys_midnight(self, world, session):
        await closed(session, world, dwellings=1)
        await issue(session)  # due 9 December
        evening = datetime(2026, 12, 9, 22, 59, tzinfo=UTC)  # 23:59 in Douala
        assert await invoicing.mark_overdue(session, at=evening) == 0
        assert await invoicing.mark_overdue(session, at=evening + timedelta(minutes=1)) == 1

    async def test_void_needs_an_issued_unpaid_invoice_and_keeps_the_number(
        self, db, world, session
    ):
        await closed(session, world, dwellings=1)
        [draft_id] = [r[0] for r in db.execute("SELECT id FROM invoice")]
        who = admin(db, "+237650000101")
        with pytest.raises(InvalidTransition, match="draft"):
            await invoicing.void_invoice(session, invoice_id=draft_id, reason="x", voided_by=who)
        await session.rollback()
        await issue(session)
        voided = await invoicing.void_invoice(
            session, invoice_id=draft_id, reason="meter read on the wrong dwelling", voided_by=who
        )
        await session.commit()
        assert (voided.status, voided.number, voided.voided_by) == (
            InvoiceStatus.VOID,
            "CM-2026-000001",
            who,
        )
        with pytest.raises(InvalidTransition, match="void"):
            await invoicing.void_invoice(session, invoice_id=draft_id, reason="x", voided_by=who)


class TestRegularisation:
    async def test_late_data_after_issue_makes_a_difference_document_two_admins_approve(
        self, db, world, session
    ):
        meter = world.meter(dwelling := world.dwelling())
        world.steady(meter, start=P0 - H, end=P1 - 2 * H, litres_per_hour=9)
        world.readings(meter, [(P1 + H, 9 * int((P1 - P0) / H))])
        await close_period(session, period=OCTOBER)
        await session.commit()
        await issue(session)
        [(original_id, original_total, original_volume)] = db.execute(
            "SELECT id, total_minor, volume_l FROM invoice"
        ).fetchall()
        # A corrected read on the closing boundary: 2,000 L more than was interpolated.
        world.readings(meter, [(P1, 9 * int((P1 - P0) / H) + 2_000)], source="manual")
        summary = await close_period(session, period=OCTOBER)
        await session.commit()
        assert summary.regularisations == 1
        [pending] = await invoicing.pending_regularisations(session)
        pending_id = pending.id
        assert (pending.corrects_invoice_id, pending.dwelling_id) == (original_id, dwelling)
        lines = db.execute(
            "SELECT kind, amount_minor, volume_l FROM invoice_line WHERE invoice_id = %s",
            [pending.id],
        ).fetchall()
        assert sum(volume or 0 for _, _, volume in lines) == pending.volume_l
        assert sum(amount for _, amount, _ in lines) == pending.total_minor
        assert "service_fee" not in [kind for kind, _, _ in lines]
        # The closing index was interpolated at 2/3 of 9 L (+6); the read is 2,000 L above 9 L.
        assert pending.volume_l == 2_003
        assert original_volume == 9 * int((P1 - P0) / H) - 3 - 9

        # Closing again changes nothing: still one pending document.
        await close_period(session, period=OCTOBER)
        await session.commit()
        assert len(await invoicing.pending_regularisations(session)) == 1

        first, second = admin(db, "+237650000102"), admin(db, "+237650000103")
        approved = await invoicing.approve_regularisation(
            session, invoice_id=pending.id, admin_id=first, at=AT, payment_days=15
        )
        await session.commit()
        assert approved.status is InvoiceStatus.DRAFT
        with pytest.raises(DuplicateApproval, match="different administrator"):
            await invoicing.approve_regularisation(
                session, invoice_id=pending.id, admin_id=first, at=AT, payment_days=15
            )
        await session.rollback()
        issued = await invoicing.approve_regularisation(
            session, invoice_id=pending_id, admin_id=second, at=AT, payment_days=15
        )
        await session.commit()
        assert (issued.status, issued.number) == (InvoiceStatus.ISSUED, "CM-2026-000002")
        assert (
            original_total + issued.total_minor
            == db.execute(
                "SELECT sum(total_minor) FROM invoice WHERE dwelling_id = %s", [dwelling]
            ).fetchone()[0]
        )
        # Now billed in full: a further close finds nothing to regularise.
        assert (await close_period(session, period=OCTOBER)).regularisations == 0
