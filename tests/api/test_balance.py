"""What a customer owes and their credit (``GET /invoices/balance``), and the invoice list's period
and dwelling, for each role's reach."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import User
from accounts.tokens import TokenType, encode_token
from core.config import Settings
from tests import clock
from tests.billing.ledger_world import Ledger, arrange, settle

pytestmark = pytest.mark.services


@pytest.fixture
def ledger(db) -> Ledger:
    return arrange(db)


async def as_user(
    session: AsyncSession, settings: Settings, user_id: int
) -> dict[str, dict[str, str]]:
    """Request arguments that sign the request in as ``user_id`` (over the client's admin)."""
    user = await session.get(User, user_id)
    assert user is not None
    token = encode_token(user, settings=settings, token_type=TokenType.ACCESS).token
    return {"headers": {"Authorization": f"Bearer {token}"}}


async def pay(admin_client: httpx.AsyncClient, ledger: Ledger, dwelling: str, amount: str) -> None:
    answer = await admin_client.post(
        "/payments",
        json={"dwelling_id": ledger.dwellings[dwelling], "method": "cash", "amount": amount},
    )
    assert answer.status_code == 201, answer.text


class TestBalance:
    async def test_owed_penalties_and_credit_per_reach(
        self, admin_client, ledger, session, settings, db
    ):
        ledger.invoice("A1", net=10_000, period="2026-09")
        ledger.invoice("A1", net=4_000, period="2026-10")
        ledger.invoice("A1", net=999, period="2026-08", status="void")
        late = ledger.invoice("A2", net=3_000, status="overdue")
        db.execute(
            "INSERT INTO late_penalty (invoice_id, overdue_minor, amount_minor, currency, status)"
            " VALUES (%s, 3000, 400, 'XAF', 'approved')",
            [late],
        )
        # Oldest first: 12,000 pays September and half of October; 5,000 the rest, 3,000 over.
        await pay(admin_client, ledger, "A1", "12000")
        await pay(admin_client, ledger, "A1", "5000")

        async def balance(user_id: int | None) -> list[dict[str, object]]:
            extra = {} if user_id is None else await as_user(session, settings, user_id)
            answer = await admin_client.get("/invoices/balance", **extra)
            assert answer.status_code == 200, answer.text
            return [
                {k: row[k] for k in ("currency", "owed", "open_invoices", "credit", "credit_minor")}
                for row in answer.json()
            ]

        assert await balance(ledger.users["A1"]) == [
            {
                "currency": "XAF",
                "owed": "0",
                "open_invoices": 0,
                "credit": "3000",
                "credit_minor": 3_000,
            }
        ]
        # The approved penalty is owed with the invoice.
        assert await balance(ledger.users["A2"]) == [
            {
                "currency": "XAF",
                "owed": "3400",
                "open_invoices": 1,
                "credit": "0",
                "credit_minor": 0,
            }
        ]
        assert await balance(ledger.users["B1"]) == []
        assert await balance(None) == [
            {
                "currency": "XAF",
                "owed": "3400",
                "open_invoices": 1,
                "credit": "3000",
                "credit_minor": 3_000,
            }
        ]
        # Someone moving into A1 tomorrow does not see the credit its tenant left.
        newcomer = db.execute(
            "INSERT INTO app_user (phone, first_name, last_name, language, role, is_active,"
            " password_hash) VALUES ('+237670000099', 'New', 'Comer', 'en', 'customer', true, 'x')"
            " RETURNING id"
        ).fetchone()[0]
        db.execute(
            "INSERT INTO dwelling_occupant (user_id, dwelling_id, relation, start_date)"
            " VALUES (%s, %s, 'tenant', %s)",
            [newcomer, ledger.dwellings["A1"], clock.today_in("Africa/Douala") + timedelta(days=1)],
        )
        assert await balance(newcomer) == []

    async def test_technicians_may_not_ask(self, admin_client, session, settings, db):
        technician = db.execute(
            "INSERT INTO app_user (phone, first_name, last_name, language, role, is_active,"
            " password_hash) VALUES ('+237670000098', 'Tech', 'Nician', 'en', 'technician',"
            " true, 'x') RETURNING id"
        ).fetchone()[0]
        answer = await admin_client.get(
            "/invoices/balance", **await as_user(session, settings, technician)
        )
        assert answer.status_code == 403


class TestInvoiceList:
    async def test_each_invoice_names_its_period_dwelling_and_what_it_owes(
        self, admin_client, ledger, session, settings, db
    ):
        ledger.invoice("A1", net=1_000, period="2026-09")
        settle(db, ledger.invoice("A2", net=2_000, period="2026-09"))
        late = ledger.invoice("A2", net=3_000, period="2026-10", status="overdue")
        db.execute(
            "INSERT INTO late_penalty (invoice_id, overdue_minor, amount_minor, currency, status)"
            " VALUES (%s, 3000, 400, 'XAF', 'approved')",
            [late],
        )
        answer = await admin_client.get(
            "/invoices", **await as_user(session, settings, ledger.users["A2"])
        )
        assert answer.status_code == 200, answer.text
        assert [
            (i["period_label"], i["period_start"], i["period_end"], i["dwelling_reference"])
            for i in answer.json()
        ] == [
            ("2026-10", str(date(2026, 10, 1)), str(date(2026, 10, 31)), "A2"),
            ("2026-09", str(date(2026, 9, 1)), str(date(2026, 9, 30)), "A2"),
        ]
        # What is left includes the approved penalty; a paid invoice owes nothing.
        assert [(i["penalty_minor"], i["owed_minor"]) for i in answer.json()] == [
            (400, 3_400),
            (0, 0),
        ]
