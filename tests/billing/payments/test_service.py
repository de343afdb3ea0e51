"""The payments ledger against a real database: allocation, credit, concurrency, polling."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from billing.payments import service as payments
from billing.payments.clients import make_provider_clients
from billing.payments.exceptions import InvalidPayment, PaymentMismatch, PaymentNotFound
from billing.payments.providers import PaymentMethod, PaymentStatus, ProviderEvent
from billing.payments.repository import PaymentRepository
from core.config_billing import PaymentsSettings
from core.db import make_async_engine
from tests import clock
from tests.billing.ledger_world import Ledger, arrange
from tests.payment_provider_fake import FakeProviders

pytestmark = pytest.mark.services

NOW = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def ledger(db) -> Ledger:
    return arrange(db)


@pytest.fixture
async def engine(settings):
    engine = make_async_engine(settings)
    yield engine
    await engine.dispose()


async def pay(
    engine, ledger: Ledger, dwelling: str, amount: int, method=PaymentMethod.CASH, now=NOW
):
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        return await payments.record_payment(
            session,
            dwelling_id=ledger.dwellings[dwelling],
            method=method,
            amount=Decimal(amount),
            currency="XAF",
            now=now,
            recorded_by=None,
        )


class TestRecordPayment:
    async def test_a_partial_payment_leaves_the_invoice_partially_paid(self, engine, ledger):
        invoice = ledger.invoice("A1", net=10_000)
        payment = await pay(engine, ledger, "A1", 4_000)
        assert payment.status is PaymentStatus.SUCCEEDED
        assert ledger.invoice_row(invoice) == ("partially_paid", 4_000)
        assert ledger.allocations() == [(payment.id, invoice, 4_000)]

    async def test_the_oldest_open_invoice_is_paid_first(self, engine, ledger):
        october = ledger.invoice("A1", net=5_000, period="2026-10", issue_date=NOW.date())
        september = ledger.invoice(
            "A1", net=6_000, period="2026-09", issue_date=NOW.date() - timedelta(days=30)
        )
        await pay(engine, ledger, "A1", 8_000)
        assert ledger.invoice_row(september) == ("paid", 6_000)
        assert ledger.invoice_row(october) == ("partially_paid", 2_000)

    async def test_several_payments_fill_invoices_in_order(self, engine, ledger):
        first = ledger.invoice("A1", net=3_000, period="2026-09", issue_date=NOW.date())
        second = ledger.invoice(
            "A1", net=3_000, period="2026-10", issue_date=NOW.date() + timedelta(days=1)
        )
        p1 = await pay(engine, ledger, "A1", 2_000)
        p2 = await pay(engine, ledger, "A1", 2_500)
        assert ledger.allocations() == [
            (p1.id, first, 2_000),
            (p2.id, first, 1_000),
            (p2.id, second, 1_500),
        ]
        assert ledger.inconsistencies() == []

    async def test_an_overpayment_is_credit_taken_by_the_next_invoice(self, engine, ledger):
        invoice = ledger.invoice("A1", net=5_000, period="2026-09")
        await pay(engine, ledger, "A1", 7_000)
        assert ledger.invoice_row(invoice) == ("paid", 5_000)
        async with AsyncSession(engine) as session:
            repo = PaymentRepository(session)
            assert await repo.credit_minor(ledger.dwellings["A1"]) == 2_000
        following = ledger.invoice("A1", net=3_000, period="2026-10")
        async with AsyncSession(engine) as session, session.begin():
            applied = await payments.apply_credit(session)
        assert [(a.invoice_id, a.amount_minor) for a in applied] == [(following, 2_000)]
        assert ledger.invoice_row(following) == ("partially_paid", 2_000)
        async with AsyncSession(engine) as session:
            repo = PaymentRepository(session)
            assert await repo.credit_minor(ledger.dwellings["A1"]) == 0
            assert await repo.balance_minor(ledger.dwellings["A1"]) == 1_000
        assert ledger.inconsistencies() == []

    async def test_accounts_do_not_pay_each_others_invoices(self, engine, ledger):
        other = ledger.invoice("A2", net=1_000)
        await pay(engine, ledger, "A1", 5_000)
        assert ledger.invoice_row(other) == ("issued", 0)

    async def test_drafts_and_void_invoices_take_nothing(self, engine, ledger):
        draft = ledger.invoice("A1", net=1_000, status="draft", period="2026-08")
        ledger.invoice("A1", net=1_000, status="void", period="2026-09")
        await pay(engine, ledger, "A1", 5_000)
        assert ledger.allocations() == []
        assert ledger.invoice_row(draft) == ("draft", 0)

    async def test_concurrent_payments_never_over_allocate(self, engine, ledger):
        invoice = ledger.invoice("A1", net=10_000)
        await asyncio.gather(*(pay(engine, ledger, "A1", 3_000) for _ in range(5)))
        assert ledger.invoice_row(invoice) == ("paid", 10_000)
        total = ledger.db.execute("SELECT sum(amount_minor) FROM payment_allocation").fetchone()
        assert total == (10_000,)
        assert ledger.inconsistencies() == []

    async def test_another_currency_is_refused(self, engine, ledger):
        async with AsyncSession(engine) as session:
            with pytest.raises(InvalidPayment, match="billed in XAF, not PGK"):
                await payments.record_payment(
                    session,
                    dwelling_id=ledger.dwellings["A1"],
                    method=PaymentMethod.CASH,
                    amount=Decimal(100),
                    currency="PGK",
                    now=NOW,
                    recorded_by=None,
                )

    @pytest.mark.parametrize(
        ("amount", "message"),
        [(Decimal("12.5"), "whole number of XAF"), (Decimal(0), "must be positive")],
    )
    async def test_impossible_amounts_are_refused(self, engine, ledger, amount, message):
        async with AsyncSession(engine) as session:
            with pytest.raises(InvalidPayment, match=message):
                await payments.record_payment(
                    session,
                    dwelling_id=ledger.dwellings["A1"],
                    method=PaymentMethod.CASH,
                    amount=amount,
                    currency=None,
                    now=NOW,
                    recorded_by=None,
                )

    async def test_mobile_money_starts_pending_and_allocates_nothing(self, engine, ledger):
        invoice = ledger.invoice("A1", net=1_000)
        payment = await pay(engine, ledger, "A1", 1_000, method=PaymentMethod.MTN_MOMO)
        assert payment.status is PaymentStatus.PENDING
        assert payment.received_at is None
        assert ledger.invoice_row(invoice) == ("issued", 0)


def event(payment, status=PaymentStatus.SUCCEEDED, event_id="evt-1", amount=None, currency="XAF"):
    return ProviderEvent(
        method=payment.method,
        event_id=event_id,
        reference=payment.reference,
        status=status,
        amount_minor=payment.amount_minor if amount is None else amount,
        currency=currency,
        provider_ref="TX1",
    )


async def apply(engine, e):
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        return await payments.apply_provider_event(session, event=e, payload={}, now=NOW)


class TestApplyProviderEvent:
    async def test_success_settles_and_allocates_once(self, engine, ledger):
        invoice = ledger.invoice("A1", net=1_500)
        payment = await pay(engine, ledger, "A1", 1_500, method=PaymentMethod.ORANGE_MONEY)
        first = await apply(engine, event(payment))
        again = await apply(engine, event(payment))
        assert (first.applied, again.applied) == (True, False)
        assert first.payment.status is PaymentStatus.SUCCEEDED
        assert ledger.invoice_row(invoice) == ("paid", 1_500)
        assert ledger.db.execute("SELECT count(*) FROM payment_event").fetchone() == (1,)

    async def test_a_later_event_about_a_settled_payment_changes_nothing(self, engine, ledger):
        payment = await pay(engine, ledger, "A1", 1_500, method=PaymentMethod.ORANGE_MONEY)
        await apply(engine, event(payment))
        late = await apply(engine, event(payment, PaymentStatus.FAILED, event_id="evt-2"))
        assert late.applied is False
        assert late.payment.status is PaymentStatus.SUCCEEDED

    async def test_the_amount_received_is_what_counts(self, engine, ledger):
        invoice = ledger.invoice("A1", net=2_000)
        payment = await pay(engine, ledger, "A1", 2_000, method=PaymentMethod.MTN_MOMO)
        outcome = await apply(engine, event(payment, amount=1_200))
        assert outcome.payment.amount_minor == 1_200
        assert ledger.invoice_row(invoice) == ("partially_paid", 1_200)

    async def test_another_currency_is_a_conflict(self, engine, ledger):
        payment = await pay(engine, ledger, "A1", 2_000, method=PaymentMethod.MTN_MOMO)
        with pytest.raises(PaymentMismatch, match="in XAF, the provider says EUR"):
            await apply(engine, event(payment, currency="EUR"))

    async def test_an_unknown_reference_is_not_found(self, engine, ledger):
        payment = await pay(engine, ledger, "A1", 2_000, method=PaymentMethod.MTN_MOMO)
        other = ProviderEvent(
            PaymentMethod.MTN_MOMO, "e", "WBPNOPE", PaymentStatus.SUCCEEDED, 2_000, "XAF"
        )
        with pytest.raises(PaymentNotFound, match="'WBPNOPE'"):
            await apply(engine, other)
        wrong_provider = ProviderEvent(
            PaymentMethod.ORANGE_MONEY, "e", payment.reference, PaymentStatus.SUCCEEDED
        )
        with pytest.raises(PaymentNotFound):
            await apply(engine, wrong_provider)

    async def test_the_same_event_at_once_is_applied_once(self, engine, ledger):
        invoice = ledger.invoice("A1", net=1_000)
        payment = await pay(engine, ledger, "A1", 1_000, method=PaymentMethod.MTN_MOMO)
        outcomes = await asyncio.gather(*(apply(engine, event(payment)) for _ in range(4)))
        assert sorted(o.applied for o in outcomes) == [False, False, False, True]
        assert ledger.invoice_row(invoice) == ("paid", 1_000)


@pytest.fixture
def providers():
    fake = FakeProviders().start()
    yield fake
    fake.stop()


def poll_settings(providers: FakeProviders) -> PaymentsSettings:
    return PaymentsSettings(
        mtn_momo_url=providers.base_url + "/momo",
        mtn_momo_token=SecretStr("momo-token"),
        mtn_momo_subscription_key=SecretStr("momo-key"),
        orange_money_url=providers.base_url + "/orange",
        orange_money_token=SecretStr("orange-token"),
        poll_after_s=60,
        poll_give_up_h=48,
    )


async def poll(engine, providers, now):
    settings = poll_settings(providers)
    return await payments.poll_pending(
        engine, clients=make_provider_clients(settings), settings=settings, now=now
    )


class TestPolling:
    async def test_a_callback_that_never_came_is_settled_by_polling(
        self, engine, ledger, providers
    ):
        invoice = ledger.invoice("A1", net=2_500)
        momo = await pay(engine, ledger, "A1", 2_500, method=PaymentMethod.MTN_MOMO)
        orange = await pay(engine, ledger, "A2", 900, method=PaymentMethod.ORANGE_MONEY)
        providers.statuses[momo.reference] = ("SUCCESSFUL", "MTN-77")
        providers.amounts[momo.reference] = 2_500
        providers.statuses[orange.reference] = ("INITIATED", None)
        result = await poll(engine, providers, clock.now() + timedelta(minutes=5))
        assert (result.polled, result.succeeded, result.still_pending) == (2, 1, 1)
        assert ledger.invoice_row(invoice) == ("paid", 2_500)
        get = next(r for r in providers.requests if r[0] == "GET")
        assert get[1] == f"/momo/collection/v1_0/requesttopay/{momo.reference}"
        assert get[2]["Authorization"] == "Bearer momo-token"
        assert get[2]["Ocp-Apim-Subscription-Key"] == "momo-key"
        post = next(r for r in providers.requests if r[0] == "POST")
        assert post[3] == {"order_id": orange.reference, "amount": 900, "currency": "XAF"}
        providers.statuses[orange.reference] = ("FAILED", "OM-1")
        result = await poll(engine, providers, clock.now() + timedelta(minutes=10))
        assert (result.polled, result.failed) == (1, 1)

    async def test_young_payments_wait_for_their_callback(self, engine, ledger, providers):
        await pay(engine, ledger, "A1", 2_500, method=PaymentMethod.MTN_MOMO)
        result = await poll(engine, providers, clock.now())
        assert result.polled == 0
        assert providers.requests == []

    async def test_a_provider_down_leaves_the_payment_pending(self, engine, ledger, providers):
        payment = await pay(engine, ledger, "A1", 2_500, method=PaymentMethod.MTN_MOMO)
        providers.fail_with = 503
        result = await poll(engine, providers, clock.now() + timedelta(minutes=5))
        assert (result.polled, result.unreachable) == (1, 1)
        status = ledger.db.execute(
            "SELECT status::text, polls FROM payment WHERE id = %s", [payment.id]
        ).fetchone()
        assert status == ("pending", 0)

    async def test_pending_payments_expire_after_the_give_up_delay(self, engine, ledger, providers):
        payment = await pay(engine, ledger, "A1", 2_500, method=PaymentMethod.MTN_MOMO)
        result = await poll(engine, providers, clock.now() + timedelta(hours=49))
        assert result.expired == 1
        row = ledger.db.execute(
            "SELECT status::text FROM payment WHERE id = %s", [payment.id]
        ).fetchone()
        assert row == ("failed",)

    async def test_a_webhook_after_the_poll_changes_nothing(self, engine, ledger, providers):
        payment = await pay(engine, ledger, "A1", 2_500, method=PaymentMethod.MTN_MOMO)
        providers.statuses[payment.reference] = ("SUCCESSFUL", "MTN-9")
        providers.amounts[payment.reference] = 2_500
        await poll(engine, providers, clock.now() + timedelta(minutes=5))
        late = await apply(engine, event(payment, event_id="MTN-9:succeeded"))
        assert late.applied is False
        total = ledger.db.execute("SELECT sum(amount_minor) FROM payment_allocation").fetchone()
        assert total == (None,)
