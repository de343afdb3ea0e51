"""Invoices: customers see their dwellings' issued invoices, managers their buildings', admins
all (drafts too); each with its lines and meter indexes, and as a PDF in the customer's language.
Administrators void an issued invoice with a reason."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy import ColumnElement, func, or_, select

from accounts import scope
from accounts.models import Role, User
from accounts.permissions import Permission
from api.auth.deps import ClientIp
from api.auth.guards import require
from api.deps import SessionDep, SettingsDep
from api.errors import error_responses
from api.params import FilterId, Limit, Offset, PathId
from billing.close.models import BillingPeriod
from billing.close.schemas import PERIOD
from billing.invoices import service as invoice_service
from billing.invoices.document import invoice_document
from billing.invoices.exceptions import InvoiceNotFound
from billing.invoices.models import Invoice, InvoiceStatus
from billing.invoices.pdf import render_invoice
from billing.invoices.schemas import InvoiceDetailOut, InvoiceListOut, InvoiceOut, VoidIn
from billing.payments import service as payments_service
from billing.payments.models import LatePenalty, Payment, PenaltyStatus
from billing.payments.schemas import BalanceOut
from core import audit
from core.audit import AuditAction
from registry.models import Dwelling

router = APIRouter(prefix="/invoices", tags=["invoices"], responses=error_responses(401, 403))


def _visible(user: User) -> list[ColumnElement[bool]]:
    """Conditions on ``Invoice`` for what ``user`` may see (drafts are the staff's).

    A customer sees the invoices billed to them, and those of the periods whose last day falls in
    their occupancy: the day billing picks whom to bill, so a tenant moving in on 1 December
    never sees November's, and one who left on 14 November never sees the invoice of the
    newcomer billed for the end of that month."""
    if user.role is Role.ADMIN:
        return []
    period_end = (
        select(BillingPeriod.end_date)
        .where(BillingPeriod.id == Invoice.period_id)
        .correlate_except(BillingPeriod)
        .scalar_subquery()
    )
    reach = scope.dwelling_held_on(user, Invoice.dwelling_id, period_end)
    assert reach is not None
    if user.role is Role.CUSTOMER:
        reach = or_(reach, Invoice.customer_id == user.id)
    return [reach, Invoice.status != InvoiceStatus.DRAFT]


async def invoice_in_reach(session: SessionDep, user: User, invoice_id: int) -> Invoice:
    found = await session.scalar(select(Invoice).where(Invoice.id == invoice_id, *_visible(user)))
    if found is None:
        raise InvoiceNotFound(f"invoice {invoice_id} does not exist")
    return found


@router.get("", response_model=list[InvoiceListOut])
async def list_invoices(
    session: SessionDep,
    user: Annotated[User, require(Permission.INVOICES_READ)],
    status: InvoiceStatus | None = None,
    period: Annotated[str | None, Query(pattern=PERIOD, description="YYYY-MM")] = None,
    dwelling_id: FilterId = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[InvoiceListOut]:
    """Invoices in the user's reach, newest first, with their period, dwelling reference and any
    approved late penalty; filter by status, period, dwelling."""
    statement = (
        select(
            Invoice,
            BillingPeriod.label,
            BillingPeriod.start_date,
            BillingPeriod.end_date,
            Dwelling.reference,
            LatePenalty.amount_minor,
        )
        .join(BillingPeriod, BillingPeriod.id == Invoice.period_id)
        .join(Dwelling, Dwelling.id == Invoice.dwelling_id)
        .outerjoin(
            LatePenalty,
            (LatePenalty.invoice_id == Invoice.id) & (LatePenalty.status == PenaltyStatus.APPROVED),
        )
        .where(*_visible(user))
    )
    if status is not None:
        statement = statement.where(Invoice.status == status)
    if dwelling_id is not None:
        statement = statement.where(Invoice.dwelling_id == dwelling_id)
    if period is not None:
        statement = statement.where(BillingPeriod.label == period)
    rows = await session.execute(statement.order_by(Invoice.id.desc()).limit(limit).offset(offset))
    return [
        InvoiceListOut.listed(
            invoice,
            period=(label, start, end),
            dwelling_reference=reference,
            penalty_minor=penalty or 0,
        )
        for invoice, label, start, end, reference, penalty in rows
    ]


@router.get("/balance", response_model=list[BalanceOut])
async def balance(
    session: SessionDep, user: Annotated[User, require(Permission.INVOICES_READ)]
) -> list[BalanceOut]:
    """Per currency, what the open invoices in the user's reach still owe (penalties included)
    and the credit: the unallocated rest of the payments in their reach (customers: made while
    they held the dwelling), which pays the account's next invoices as they are issued."""
    made_at = func.coalesce(Payment.received_at, Payment.created_at)
    found = await payments_service.balances(
        session,
        invoice_reach=_visible(user),
        payment_reach=scope.dwelling_held_at(user, Payment.dwelling_id, made_at),
    )
    return [BalanceOut.of(b) for b in found]


@router.get("/{invoice_id}", response_model=InvoiceDetailOut, responses=error_responses(404))
async def get_invoice(
    invoice_id: PathId,
    session: SessionDep,
    user: Annotated[User, require(Permission.INVOICES_READ)],
) -> InvoiceDetailOut:
    """One invoice with its lines and meter indexes."""
    invoice = await invoice_in_reach(session, user, invoice_id)
    approvals = await invoice_service.approvals_of(session, invoice_id=invoice.id)
    return InvoiceDetailOut.detail(invoice, approved_by=approvals)


@router.get(
    "/{invoice_id}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}, **error_responses(404)},
)
async def invoice_pdf(
    invoice_id: PathId,
    session: SessionDep,
    settings: SettingsDep,
    user: Annotated[User, require(Permission.INVOICES_READ)],
) -> Response:
    """The invoice as a PDF, in the customer's language and currency format."""
    invoice = await invoice_in_reach(session, user, invoice_id)
    document = await invoice_document(
        session, invoice=invoice, settings=settings.billing, today=datetime.now(UTC).date()
    )
    content = await asyncio.to_thread(render_invoice, document)
    name = invoice.number or f"draft-{invoice.id}"
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}.pdf"'},
    )


@router.post("/{invoice_id}/void", response_model=InvoiceOut, responses=error_responses(404, 409))
async def void_invoice(
    invoice_id: PathId,
    body: VoidIn,
    session: SessionDep,
    user: Annotated[User, require(Permission.BILLING_RUN)],
    ip: ClientIp,
) -> InvoiceOut:
    """Void an issued, unpaid invoice (administrators); its number stays used."""
    invoice = await invoice_service.void_invoice(
        session, invoice_id=invoice_id, reason=body.reason, voided_by=user.id
    )
    await audit.record(
        session,
        action=AuditAction.BILLING_ACTION,
        actor_id=user.id,
        ip=ip,
        target_type="invoice",
        target_id=invoice.id,
        detail={"event": "void", "reason": body.reason, "number": invoice.number},
    )
    return InvoiceOut.of(invoice)
