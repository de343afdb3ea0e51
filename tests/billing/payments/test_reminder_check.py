"""A payment reminder is checked again when it goes out: an invoice paid between the queueing
and the send gets no "please pay" (the outbox's send check, in the transaction of the send)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from billing.payments.notices import queue_due_notices
from core.db import make_async_engine
from core.notifications import service as notifications
from core.notifications.service import RetryPolicy
from core.sms import ConsoleSmsProvider
from tests import clock
from tests.billing.ledger_world import Ledger, arrange, settle

pytestmark = pytest.mark.services


@pytest.fixture
async def engine(settings):
    engine = make_async_engine(settings)
    yield engine
    await engine.dispose()


@pytest.fixture
def ledger(db) -> Ledger:
    return arrange(db)


async def queue(engine, settings) -> None:
    today = clock.today()
    async with AsyncSession(engine) as session, session.begin():
        await queue_due_notices(
            session, today=today, reminder_days=7, now=clock.now(), billing=settings.billing
        )


def drain(settings, sms: ConsoleSmsProvider) -> notifications.DrainReport:
    with psycopg.connect(settings.dsn, autocommit=True) as conn:
        return notifications.drain(conn, provider=sms, policy=RetryPolicy(), now=clock.now())


def outbox(ledger: Ledger) -> Any:
    return ledger.db.execute(
        "SELECT kind, status::text, last_error FROM sms_outbox ORDER BY id"
    ).fetchall()


class TestReminderSendCheck:
    async def test_an_invoice_paid_after_the_queueing_gets_no_reminder(
        self, engine, settings, ledger
    ):
        today = clock.today()
        invoice = ledger.invoice("A2", net=3_000, due_date=today + timedelta(days=5))
        await queue(engine, settings)
        assert [k for k, *_ in outbox(ledger)] == ["invoice_issued", "due_reminder"]
        settle(ledger.db, invoice)  # paid before the sender came by
        sms = ConsoleSmsProvider()
        report = await asyncio.to_thread(drain, settings, sms)
        assert (report.sent, report.dropped) == (1, 1)
        assert [m.text for m in sms.outbox if "reminder" in m.text] == []
        assert outbox(ledger)[1] == ("due_reminder", "cancelled", "invoice_unpaid no longer holds")

    async def test_an_unpaid_invoice_is_reminded(self, engine, settings, ledger):
        today = clock.today()
        ledger.invoice("A2", net=3_000, due_date=today + timedelta(days=5))
        await queue(engine, settings)
        sms = ConsoleSmsProvider()
        report = await asyncio.to_thread(drain, settings, sms)
        assert (report.sent, report.dropped) == (2, 0)
        assert any(m.text.startswith("WaterBill reminder:") for m in sms.outbox)

    async def test_a_payment_waits_for_a_reminder_being_sent(self, engine, settings, ledger):
        """The check locks the invoice: a payment allocated while the SMS is being sent waits
        until the send is recorded, so "reminded" and "paid" never cross unseen."""
        today = clock.today()
        invoice = ledger.invoice("A2", net=3_000, due_date=today + timedelta(days=5))
        await queue(engine, settings)
        with psycopg.connect(settings.dsn, autocommit=True) as sender:
            with sender.transaction():
                checked = notifications.SEND_CHECKS["invoice_unpaid"](sender, invoice)
                assert checked
                with psycopg.connect(settings.dsn) as payer:
                    payer.execute("SET lock_timeout = '300ms'")
                    with pytest.raises(psycopg.errors.LockNotAvailable):
                        payer.execute("UPDATE invoice SET status = 'paid' WHERE id = %s", [invoice])

    async def test_a_check_this_process_does_not_know_is_never_sent_unchecked(
        self, engine, settings, ledger
    ):
        today = clock.today()
        ledger.invoice("A2", net=3_000, due_date=today + timedelta(days=5))
        await queue(engine, settings)
        ledger.db.execute(
            "UPDATE sms_outbox SET send_check = 'unheard_of' WHERE kind = 'due_reminder'"
        )
        sms = ConsoleSmsProvider()
        report = await asyncio.to_thread(drain, settings, sms)
        assert (report.sent, report.retrying) == (1, 1)
        assert outbox(ledger)[1][:2] == ("due_reminder", "queued")
