"""Payments: the ledger (admins record cash and bank payments), provider webhooks, penalties.

Customers see their dwellings' payments, managers those of their buildings, admins all.
Webhooks are public routes authenticated by the provider's HMAC signature over the raw body.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Path, Query, Request, status
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from accounts import scope
from accounts.models import User
from accounts.permissions import Permission
from api.auth.deps import ClientIp
from api.auth.guards import require
from api.deps import SessionDep, SettingsDep
from api.errors import error_responses
from api.params import Limit, Offset, PathId
from api.sms import queue_and_drain_after
from billing.payments import penalties
from billing.payments import service as payments_service
from billing.payments.exceptions import InvalidWebhook
from billing.payments.models import Payment, PenaltyStatus
from billing.payments.notices import queue_receipts
from billing.payments.providers import (
    PROVIDER_METHODS,
    PaymentMethod,
    parse_webhook,
    verify_signature,
)
from billing.payments.repository import PaymentRepository
from billing.payments.schemas import PaymentIn, PaymentOut, PenaltyOut, ProposedOut, WebhookOut
from core import audit
from core.orm import MAX_ID

router = APIRouter(prefix="/payments", tags=["payments"], responses=error_responses(401, 403))
penalty_router = APIRouter(
    prefix="/penalties", tags=["payments"], responses=error_responses(401, 403)
)


def _receipts_after_commit(
    background: BackgroundTasks, request: Request, settings: SettingsDep
) -> None:
    async def queue(session: AsyncSession) -> list[int]:
        now = datetime.now(UTC)
        result = await queue_receipts(
            session,
            today=now.date(),
            reminder_days=settings.payments.reminder_days,
            now=now,
            billing=settings.billing,
        )
        return result.outbox_ids

    queue_and_drain_after(background, request, queue)


@router.post(
    "",
    response_model=PaymentOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(422),
)
async def record_payment(
    body: PaymentIn,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    background: BackgroundTasks,
    user: Annotated[User, require(Permission.PAYMENTS_WRITE)],
    ip: ClientIp,
) -> PaymentOut:
    """Record a payment (cash at an agent, bank transfer: counted and allocated at once)."""
    payment = await payments_service.record_payment(
        session,
        dwelling_id=body.dwelling_id,
        method=body.method,
        amount=body.amount,
        currency=body.currency,
        now=datetime.now(UTC),
        recorded_by=user.id,
        provider_ref=body.provider_ref,
        note=body.note,
    )
    await audit.record(
        session,
        action="payment.record",
        actor_id=user.id,
        ip=ip,
        target_type="payment",
        target_id=payment.id,
        detail={"method": payment.method.value, "amount_minor": payment.amount_minor},
    )
    # Committed here, not by the session dependency: the receipt job reads it on its own
    # connection, and FastAPI may run background tasks before dependencies exit.
    await session.commit()
    _receipts_after_commit(background, request, settings)
    return PaymentOut.of(payment)


@router.get("", response_model=list[PaymentOut])
async def list_payments(
    session: SessionDep,
    user: Annotated[User, require(Permission.INVOICES_READ)],
    dwelling_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[PaymentOut]:
    """Payments in the user's reach, newest first (customers: made while they held the dwelling)."""
    made_at = func.coalesce(Payment.received_at, Payment.created_at)
    rows = await PaymentRepository(session).list(
        reach=scope.dwelling_held_at(user, Payment.dwelling_id, made_at),
        dwelling_id=dwelling_id,
        limit=limit,
        offset=offset,
    )
    return [PaymentOut.of(p) for p in rows]


@router.post(
    "/webhooks/{provider}",
    response_model=WebhookOut,
    responses=error_responses(401, 404, 409, 422),
)
async def provider_webhook(
    provider: Annotated[
        PaymentMethod, Path(description="card, orange_money, mtn_momo or cellmoni")
    ],
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    background: BackgroundTasks,
) -> WebhookOut:
    """A provider's notice about a payment: signature checked, applied once (replays: no-op)."""
    if provider not in PROVIDER_METHODS:
        raise InvalidWebhook(f"{provider.value} payments have no webhooks")
    body = await request.body()
    verify_signature(
        provider, headers=request.headers, body=body, settings=settings.payments, now_s=time.time()
    )
    event = parse_webhook(provider, body)
    outcome = await payments_service.apply_provider_event(
        session, event=event, payload=json.loads(body), now=datetime.now(UTC)
    )
    await session.commit()  # before the receipt job, as in record_payment
    if outcome.applied:
        _receipts_after_commit(background, request, settings)
    return WebhookOut(
        payment_id=outcome.payment.id,
        reference=outcome.payment.reference,
        status=outcome.payment.status,
        applied=outcome.applied,
    )


@penalty_router.get("", response_model=list[PenaltyOut])
async def list_penalties(
    session: SessionDep,
    _: Annotated[User, require(Permission.PAYMENTS_WRITE)],
    status_: Annotated[PenaltyStatus | None, Query(alias="status")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[PenaltyOut]:
    """Late penalty proposals and decisions, newest first."""
    rows = await penalties.list_penalties(session, status=status_, limit=limit, offset=offset)
    return [PenaltyOut.of(p) for p in rows]


@penalty_router.post("/propose", response_model=ProposedOut)
async def propose_penalties(
    session: SessionDep, _: Annotated[User, require(Permission.PAYMENTS_WRITE)]
) -> ProposedOut:
    """Propose a penalty by rule on each open invoice past its due date (the daily job does too)."""
    found = await penalties.propose_penalties(session, today=datetime.now(UTC).date())
    return ProposedOut(proposed=len(found))


async def _decide(
    session: SessionDep, user: User, ip: str | None, penalty_id: int, *, approve: bool
) -> PenaltyOut:
    penalty = await penalties.decide_penalty(
        session, penalty_id=penalty_id, approve=approve, admin_id=user.id, now=datetime.now(UTC)
    )
    await audit.record(
        session,
        action="penalty.approve" if approve else "penalty.reject",
        actor_id=user.id,
        ip=ip,
        target_type="invoice",
        target_id=penalty.invoice_id,
        detail={"penalty_id": penalty.id, "amount_minor": penalty.amount_minor},
    )
    return PenaltyOut.of(penalty)


@penalty_router.post(
    "/{penalty_id}/approve", response_model=PenaltyOut, responses=error_responses(404, 409)
)
async def approve_penalty(
    penalty_id: PathId,
    session: SessionDep,
    user: Annotated[User, require(Permission.PAYMENTS_WRITE)],
    ip: ClientIp,
) -> PenaltyOut:
    """Apply a proposed penalty: the invoice owes it from now on."""
    return await _decide(session, user, ip, penalty_id, approve=True)


@penalty_router.post(
    "/{penalty_id}/reject", response_model=PenaltyOut, responses=error_responses(404, 409)
)
async def reject_penalty(
    penalty_id: PathId,
    session: SessionDep,
    user: Annotated[User, require(Permission.PAYMENTS_WRITE)],
    ip: ClientIp,
) -> PenaltyOut:
    """Drop a proposed penalty (it is not proposed again)."""
    return await _decide(session, user, ip, penalty_id, approve=False)
