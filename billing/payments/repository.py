"""All payment-ledger SQL: recording, provider events, allocation, notices, penalties.

Allocation is one statement over every account asked for: the open invoices of an account
laid end to end, oldest first, form intervals of what is owed ([0, due₁), [due₁, due₁+due₂),
...); the unallocated rests of its payments, oldest first, form intervals of what is paid; an
allocation is the overlap of a payment's interval with an invoice's. Oldest-first payment of
oldest-first invoices, partial payments and credit (a payment interval reaching past the last
invoice keeps its rest) all fall out of that one join.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from billing.invoices.models import Invoice, InvoiceStatus
from billing.payments.models import (
    LatePenalty,
    Payment,
    PaymentAllocation,
    PaymentEvent,
    PenaltyStatus,
)
from billing.payments.providers import PaymentMethod, PaymentStatus, ProviderEvent

# First key of the advisory locks that serialise allocation per account (dwelling id second):
# two payments of one account allocated at once would both see the same open invoices.
ALLOCATION_LOCK = 0x5041  # "PA"

# What an invoice owes in all: its total plus an approved late penalty (correlated: for
# statements that touch few invoices; bulk reads join PENALTY_JOIN and use OWED_JOINED).
OWED = (
    "i.total_minor + COALESCE((SELECT lp.amount_minor FROM late_penalty lp"
    " WHERE lp.invoice_id = i.id AND lp.status = 'approved'), 0)"
)
PENALTY_JOIN = "LEFT JOIN late_penalty lp ON lp.invoice_id = i.id AND lp.status = 'approved'"
OWED_JOINED = "(i.total_minor + COALESCE(lp.amount_minor, 0))"
OPEN_STATUSES = "('issued', 'partially_paid', 'overdue')"
OPEN_INVOICE_STATUSES = (
    InvoiceStatus.ISSUED,
    InvoiceStatus.PARTIALLY_PAID,
    InvoiceStatus.OVERDUE,
)

# Its own statement, before the allocation: a READ COMMITTED statement sees what was committed
# when it started, so the allocation must start after the lock is held, not wait inside it.
_LOCK_ACCOUNTS = f"""
SELECT count(pg_advisory_xact_lock({ALLOCATION_LOCK}, d))
FROM (SELECT DISTINCT d FROM unnest(CAST(:dwellings AS integer[])) AS d ORDER BY d) AS ds
"""

_ALLOCATE = f"""
WITH owing AS (
    SELECT i.id, i.dwelling_id, i.currency, {OWED_JOINED} - i.paid_minor AS due, i.issued_at
    FROM invoice i {PENALTY_JOIN}
    WHERE i.dwelling_id = ANY(:dwellings) AND i.status IN {OPEN_STATUSES}
),
inv AS (
    SELECT id, dwelling_id, currency,
           sum(due) OVER w - due AS lo, sum(due) OVER w AS hi
    FROM owing WHERE due > 0
    WINDOW w AS (PARTITION BY dwelling_id, currency ORDER BY issued_at, id)
),
rest AS (
    SELECT p.id, p.dwelling_id, p.currency, p.received_at,
           p.amount_minor - p.allocated_minor AS left_minor
    FROM payment p
    WHERE p.dwelling_id = ANY(:dwellings) AND p.status = 'succeeded'
      AND p.allocated_minor < p.amount_minor
),
pay AS (
    SELECT id, dwelling_id, currency,
           sum(left_minor) OVER w - left_minor AS lo, sum(left_minor) OVER w AS hi
    FROM rest WHERE left_minor > 0
    WINDOW w AS (PARTITION BY dwelling_id, currency ORDER BY received_at, id)
),
matched AS (
    SELECT pay.id AS payment_id, inv.id AS invoice_id,
           least(pay.hi, inv.hi) - greatest(pay.lo, inv.lo) AS amount_minor
    FROM pay
    JOIN inv ON inv.dwelling_id = pay.dwelling_id AND inv.currency = pay.currency
            AND inv.lo < pay.hi AND pay.lo < inv.hi
),
added AS (
    INSERT INTO payment_allocation (payment_id, invoice_id, amount_minor, created_at)
    SELECT payment_id, invoice_id, amount_minor, COALESCE(CAST(:at AS timestamptz), now())
    FROM matched
    ON CONFLICT (payment_id, invoice_id)
        DO UPDATE SET amount_minor = payment_allocation.amount_minor + excluded.amount_minor
),
paid_out AS (
    UPDATE payment p SET allocated_minor = p.allocated_minor + m.amount_minor
    FROM (SELECT payment_id, sum(amount_minor) AS amount_minor FROM matched GROUP BY payment_id) m
    WHERE p.id = m.payment_id
),
per_invoice AS (
    SELECT invoice_id, sum(amount_minor) AS amount_minor FROM matched GROUP BY invoice_id
)
UPDATE invoice i
SET paid_minor = i.paid_minor + n.amount_minor,
    status = CASE
        WHEN i.paid_minor + n.amount_minor >= {OWED} THEN 'paid'
        WHEN i.status = 'overdue' THEN 'overdue'
        ELSE 'partially_paid'
    END::invoice_status,
    paid_at = CASE WHEN i.paid_minor + n.amount_minor >= {OWED}
                   THEN COALESCE(CAST(:at AS timestamptz), now()) END
FROM per_invoice n
WHERE i.id = n.invoice_id
RETURNING i.id, i.status::text, n.amount_minor
"""


@dataclass(frozen=True)
class Allocated:
    invoice_id: int
    status: str
    amount_minor: int


@dataclass(frozen=True)
class Owed:
    """What open invoices of one currency still owe, and how many they are."""

    currency: str
    owed_minor: int
    open_invoices: int


class PaymentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def dwelling_currency(self, dwelling_id: int) -> str | None:
        """The currency an account is billed in: its country's."""
        found: str | None = await self.session.scalar(
            text(
                "SELECT c.currency FROM dwelling d JOIN building b ON b.id = d.building_id"
                " JOIN zone z ON z.id = b.zone_id JOIN country c ON c.code = z.country_code"
                " WHERE d.id = :d"
            ),
            {"d": dwelling_id},
        )
        return found

    async def add(self, payment: Payment) -> Payment:
        self.session.add(payment)
        await self.session.flush()
        return payment

    async def get(self, payment_id: int) -> Payment | None:
        return await self.session.get(Payment, payment_id)

    async def lock_by_reference(self, reference: str) -> Payment | None:
        """The payment with our ``reference``, row-locked until the transaction ends."""
        return await self.session.scalar(
            select(Payment).where(Payment.reference == reference).with_for_update()
        )

    async def record_event(self, event: ProviderEvent, *, payment_id: int, payload: Any) -> bool:
        """Store a provider event; False when it was stored before (a replay)."""
        inserted = await self.session.scalar(
            insert(PaymentEvent)
            .values(
                method=event.method,
                event_id=event.event_id,
                payment_id=payment_id,
                status=event.status,
                payload=payload,
            )
            .on_conflict_do_nothing()
            .returning(PaymentEvent.event_id)
        )
        return inserted is not None

    async def allocate(
        self, dwelling_ids: Sequence[int], *, at: datetime | None = None
    ) -> list[Allocated]:
        """Allocate the accounts' unallocated payments to their open invoices, oldest first.

        ``at`` dates the allocations (and any invoice they settle): the caller's clock, so reports
        "as of" a day agree with it; None is the database's ``now()``.
        """
        if not dwelling_ids:
            return []
        await self.session.execute(text(_LOCK_ACCOUNTS), {"dwellings": sorted(set(dwelling_ids))})
        params = {"dwellings": sorted(set(dwelling_ids)), "at": at}
        rows = await self.session.execute(text(_ALLOCATE), params)
        return [Allocated(invoice_id=r[0], status=r[1], amount_minor=r[2]) for r in rows]

    async def accounts_with_credit_and_debt(self) -> list[int]:
        """Dwellings with an unallocated payment rest and an open invoice: allocation's work.

        Reads only payments with a rest (``ix_payment_unallocated``), not the whole ledger.
        """
        rows = await self.session.scalars(
            text(
                "SELECT DISTINCT p.dwelling_id FROM payment p"
                " WHERE p.status = 'succeeded' AND p.allocated_minor < p.amount_minor"
                f" AND EXISTS (SELECT 1 FROM invoice i WHERE i.dwelling_id = p.dwelling_id"
                f" AND i.status IN {OPEN_STATUSES} AND {OWED} > i.paid_minor)"
            )
        )
        return list(rows)

    async def credit_minor(self, dwelling_id: int) -> int:
        """What an account has paid and no invoice has taken yet."""
        found = await self.session.scalar(
            text(
                "SELECT COALESCE(sum(amount_minor - allocated_minor), 0) FROM payment"
                " WHERE dwelling_id = :d AND status = 'succeeded'"
            ),
            {"d": dwelling_id},
        )
        return int(found or 0)

    async def balance_minor(self, dwelling_id: int) -> int:
        """What an account still owes on its open invoices (0 when all is paid)."""
        found = await self.session.scalar(
            text(
                f"SELECT COALESCE(sum({OWED} - i.paid_minor), 0) FROM invoice i"
                f" WHERE i.dwelling_id = :d AND i.status IN {OPEN_STATUSES}"
            ),
            {"d": dwelling_id},
        )
        return int(found or 0)

    async def owed_by_currency(self, reach: Sequence[ColumnElement[bool]]) -> list[Owed]:
        """Open invoices matching ``reach`` (conditions on ``Invoice``), per currency: what they
        still owe (an approved penalty included) and how many they are."""
        owed = Invoice.total_minor + func.coalesce(LatePenalty.amount_minor, 0) - Invoice.paid_minor
        rows = await self.session.execute(
            select(Invoice.currency, func.sum(owed), func.count())
            .outerjoin(
                LatePenalty,
                and_(
                    LatePenalty.invoice_id == Invoice.id,
                    LatePenalty.status == PenaltyStatus.APPROVED,
                ),
            )
            .where(Invoice.status.in_(OPEN_INVOICE_STATUSES), *reach)
            .group_by(Invoice.currency)
            .order_by(Invoice.currency)
        )
        return [Owed(currency=c, owed_minor=int(o), open_invoices=n) for c, o, n in rows]

    async def credit_by_currency(self, reach: ColumnElement[bool] | None) -> dict[str, int]:
        """Unallocated rests of the succeeded payments matching ``reach`` (a condition on
        ``Payment``; None: every payment), per currency; currencies without credit are absent.
        Reads only payments with a rest (``ix_payment_unallocated``)."""
        statement = (
            select(Payment.currency, func.sum(Payment.amount_minor - Payment.allocated_minor))
            .where(
                Payment.status == PaymentStatus.SUCCEEDED,
                Payment.allocated_minor < Payment.amount_minor,
            )
            .group_by(Payment.currency)
        )
        if reach is not None:
            statement = statement.where(reach)
        rows = await self.session.execute(statement)
        return {currency: int(credit) for currency, credit in rows}

    async def pending_to_poll(
        self, *, methods: Sequence[PaymentMethod], older_than: datetime, limit: int
    ) -> Sequence[Payment]:
        rows = await self.session.scalars(
            select(Payment)
            .where(
                Payment.status == PaymentStatus.PENDING,
                Payment.method.in_(methods),
                Payment.created_at <= older_than,
            )
            .order_by(Payment.created_at)
            .limit(limit)
        )
        return rows.all()

    async def mark_polled(self, payment_id: int) -> None:
        await self.session.execute(
            text("UPDATE payment SET polls = polls + 1, polled_at = now() WHERE id = :p"),
            {"p": payment_id},
        )

    async def expire_pending(self, *, created_before: datetime) -> int:
        """Pending payments no provider ever confirmed: failed, in one statement."""
        result = await self.session.execute(
            text(
                "UPDATE payment SET status = 'failed', note = note || 'expired: never confirmed'"
                " WHERE status = 'pending' AND created_at < :t RETURNING id"
            ),
            {"t": created_before},
        )
        return len(result.all())

    async def list(
        self,
        *,
        reach: Any | None,
        dwelling_id: int | None,
        limit: int,
        offset: int,
    ) -> Sequence[Payment]:
        """Newest first; ``reach`` a condition on ``Payment`` (None: every payment)."""
        statement = select(Payment).order_by(Payment.created_at.desc(), Payment.id.desc())
        if reach is not None:
            statement = statement.where(reach)
        if dwelling_id is not None:
            statement = statement.where(Payment.dwelling_id == dwelling_id)
        rows = await self.session.scalars(statement.limit(limit).offset(offset))
        return rows.all()

    async def add_keyed(self, payment: Payment) -> Payment | None:
        """Insert ``payment`` unless its idempotency key was used before (then None)."""
        values = {
            c.key: getattr(payment, c.key)
            for c in Payment.__table__.columns
            if getattr(payment, c.key, None) is not None
        }
        inserted = await self.session.scalar(
            insert(Payment)
            .values(**values)
            .on_conflict_do_nothing(
                index_elements=[Payment.idempotency_key],
                index_where=Payment.idempotency_key.is_not(None),
            )
            .returning(Payment.id)
        )
        return None if inserted is None else await self.session.get(Payment, inserted)

    async def by_idempotency_key(self, key: str) -> Payment | None:
        return await self.session.scalar(select(Payment).where(Payment.idempotency_key == key))

    async def invoice_owed(self, invoice_id: int) -> InvoiceOwed | None:
        """What an invoice still owes (an approved penalty included), with its country."""
        row = (
            await self.session.execute(
                text(
                    f"SELECT i.id, i.number, i.dwelling_id, i.country_code, i.currency,"
                    f" i.status::text AS status, {OWED} - i.paid_minor AS owed_minor"
                    f" FROM invoice i WHERE i.id = :i"
                ),
                {"i": invoice_id},
            )
        ).first()
        return None if row is None else InvoiceOwed(**row._mapping)

    async def allocations_of(self, payment_id: int) -> Sequence[PaidInvoice]:
        """The invoices a payment paid, oldest first, and how much of each."""
        rows = await self.session.execute(
            select(Invoice.id, Invoice.number, Invoice.status, PaymentAllocation.amount_minor)
            .join(PaymentAllocation, PaymentAllocation.invoice_id == Invoice.id)
            .where(PaymentAllocation.payment_id == payment_id)
            .order_by(Invoice.issued_at, Invoice.id)
        )
        return [PaidInvoice(i, n, s.value, a) for i, n, s, a in rows]


@dataclass(frozen=True)
class InvoiceOwed:
    id: int
    number: str | None
    dwelling_id: int
    country_code: str
    currency: str
    status: str
    owed_minor: int


@dataclass(frozen=True)
class PaidInvoice:
    invoice_id: int
    number: str | None
    status: str
    amount_minor: int
