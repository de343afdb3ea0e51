"""Late penalties: proposed by rule once an invoice is past due, applied on an admin's approval.

The rule is ``billing.tariffs.pricing.late_penalty`` with the invoice's own tariff, on what the
invoice still owes the day after its due date. One proposal per invoice (unique), never re-proposed
after a rejection. An approved penalty is added to what the invoice owes (the invoice document
itself is immutable): allocation and reports read it, the accounting export books it to the
penalty account, and the account's credit, if any, pays it at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from billing.invoices import service as invoice_service
from billing.invoices.models import Invoice, InvoiceStatus
from billing.payments.exceptions import (
    PenaltyAlreadyDecided,
    PenaltyNotFound,
    PenaltyOnVoidInvoice,
)
from billing.payments.models import LatePenalty, PenaltyStatus
from billing.payments.repository import OPEN_STATUSES, OWED, PaymentRepository
from billing.tariffs.models import TariffVersion
from billing.tariffs.pricing import late_penalty
from billing.tariffs.service import as_tariff
from core.money import Money, get_currency

_OVERDUE = f"""
SELECT i.id, i.tariff_id, i.currency, {OWED} - i.paid_minor AS overdue_minor
FROM invoice i
WHERE i.status IN {OPEN_STATUSES} AND i.due_date < :today AND {OWED} > i.paid_minor
  AND NOT EXISTS (SELECT 1 FROM late_penalty lp WHERE lp.invoice_id = i.id)
"""


@dataclass(frozen=True)
class Proposal:
    invoice_id: int
    overdue_minor: int
    amount_minor: int


async def propose_penalties(session: AsyncSession, *, today: date) -> list[Proposal]:
    """Propose a penalty on every open invoice past its due date that has none yet.

    Overdue invoices that are still open are also marked ``overdue`` here (the daily job).
    """
    await invoice_service.mark_overdue(session, today=today)
    rows = (await session.execute(text(_OVERDUE), {"today": today})).all()
    tariff_ids = {r.tariff_id for r in rows}
    versions = (
        await session.scalars(select(TariffVersion).where(TariffVersion.id.in_(tariff_ids)))
    ).all()
    tariffs = {v.id: as_tariff(v) for v in versions}
    proposals: list[Proposal] = []
    for row in rows:
        tariff = tariffs[row.tariff_id]
        overdue = Money.from_minor(int(row.overdue_minor), get_currency(row.currency))
        amount = late_penalty(tariff, overdue=overdue).to_minor()
        if amount > 0:
            proposals.append(Proposal(row.id, int(row.overdue_minor), amount))
    if proposals:
        currency = {r.id: r.currency for r in rows}
        await session.execute(
            insert(LatePenalty)
            .values(
                [
                    {
                        "invoice_id": p.invoice_id,
                        "overdue_minor": p.overdue_minor,
                        "amount_minor": p.amount_minor,
                        "currency": currency[p.invoice_id],
                        "status": PenaltyStatus.PROPOSED,
                    }
                    for p in proposals
                ]
            )
            .on_conflict_do_nothing()
        )
    return proposals


async def list_penalties(
    session: AsyncSession, *, status: PenaltyStatus | None, limit: int, offset: int
) -> Sequence[LatePenalty]:
    statement = select(LatePenalty).order_by(LatePenalty.proposed_at.desc(), LatePenalty.id.desc())
    if status is not None:
        statement = statement.where(LatePenalty.status == status)
    return (await session.scalars(statement.limit(limit).offset(offset))).all()


async def decide_penalty(
    session: AsyncSession, *, penalty_id: int, approve: bool, admin_id: int, now: datetime
) -> LatePenalty:
    """Approve (apply) or reject a proposed penalty.

    Raises:
        PenaltyNotFound: no such proposal.
        PenaltyAlreadyDecided: it was approved or rejected before.
        PenaltyOnVoidInvoice: approving one whose invoice was voided since (rejecting it is fine).
    """
    penalty = await session.scalar(
        select(LatePenalty).where(LatePenalty.id == penalty_id).with_for_update()
    )
    if penalty is None:
        raise PenaltyNotFound(f"penalty {penalty_id} does not exist")
    if penalty.status is not PenaltyStatus.PROPOSED:
        raise PenaltyAlreadyDecided(f"penalty {penalty_id} is {penalty.status.value} already")
    if approve:
        invoice_status = await session.scalar(
            select(Invoice.status).where(Invoice.id == penalty.invoice_id).with_for_update()
        )
        if invoice_status == InvoiceStatus.VOID:
            raise PenaltyOnVoidInvoice(
                f"invoice {penalty.invoice_id} of penalty {penalty_id} is void: reject the penalty"
            )
    penalty.status = PenaltyStatus.APPROVED if approve else PenaltyStatus.REJECTED
    penalty.decided_by = admin_id
    penalty.decided_at = now
    await session.flush()
    if approve:
        # The invoice owes more now: a paid one is open again, and credit may pay it.
        dwelling_id = await session.scalar(
            text(
                f"UPDATE invoice i SET status = CASE WHEN i.paid_minor >= {OWED} THEN i.status"
                " WHEN i.due_date < CAST(:today AS date) THEN 'overdue'"
                " ELSE 'partially_paid' END::invoice_status,"
                f" paid_at = CASE WHEN i.paid_minor >= {OWED} THEN i.paid_at END"
                " WHERE i.id = :id RETURNING i.dwelling_id"
            ),
            {"id": penalty.invoice_id, "today": now.date()},
        )
        if dwelling_id is not None:
            await PaymentRepository(session).allocate([dwelling_id], at=now)
    return penalty
