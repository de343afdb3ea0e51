"""Pay now: a mobile money payment of an invoice, asked by whoever may read it (customers
from the portal), and the receipt of a payment. The flow is ``billing.payments.collect``."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Header, Request, status
from fastapi.exceptions import RequestValidationError
from sqlalchemy import func, select

from accounts import scope
from accounts.models import User
from accounts.permissions import Permission
from api.auth.deps import ClientIp
from api.auth.guards import require
from api.deps import SessionDep, SettingsDep
from api.errors import error_responses
from api.params import PathId
from api.routers.invoices import invoice_in_reach
from billing.payments import collect
from billing.payments.clients import PaymentRequest, ProviderClient
from billing.payments.exceptions import PaymentNotFound, ProviderUnavailable
from billing.payments.models import Payment
from billing.payments.providers import PaymentMethod
from billing.payments.schemas import PaymentOut, PayNowIn, PayNowOut, PayOptionOut, ReceiptOut
from core import audit
from core.phone import InvalidPhoneNumber, normalise_phone

router = APIRouter(tags=["payments"], responses=error_responses(401, 403))

Reader = Annotated[User, require(Permission.INVOICES_READ)]
IdempotencyKey = Annotated[
    str,
    Header(
        min_length=8,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="One per pay form: the same key sent twice asks the provider once.",
    ),
]


def provider_clients(request: Request) -> dict[PaymentMethod, ProviderClient]:
    clients: dict[PaymentMethod, ProviderClient] = request.app.state.payment_clients
    return clients


@router.get(
    "/invoices/{invoice_id}/pay", response_model=list[PayOptionOut], responses=error_responses(404)
)
async def pay_options(
    invoice_id: PathId, request: Request, session: SessionDep, settings: SettingsDep, user: Reader
) -> list[PayOptionOut]:
    """The mobile money operators of the invoice's country it can be paid with now."""
    invoice = await invoice_in_reach(session, user, invoice_id)
    options = collect.pay_options(
        settings.billing,
        country_code=invoice.country_code,
        available=set(provider_clients(request)),
    )
    return [PayOptionOut(method=o.method, operator=o.operator) for o in options]


@router.post(
    "/invoices/{invoice_id}/pay",
    response_model=PayNowOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(404, 409, 422, 503),
)
async def pay_now(
    invoice_id: PathId,
    body: PayNowIn,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Reader,
    ip: ClientIp,
    idempotency_key: IdempotencyKey,
) -> PayNowOut:
    """Ask the provider to collect what the invoice owes from the payer's mobile money account;
    the payment stays pending until its webhook or the poll job settles it (then see its
    receipt). The same Idempotency-Key twice asks once and answers the same payment."""
    invoice = await invoice_in_reach(session, user, invoice_id)
    try:
        phone = normalise_phone(
            body.phone,
            default_country=invoice.country_code,
            level=settings.auth.phone_validation,
        )
    except InvalidPhoneNumber as exc:
        raise RequestValidationError(
            [{"loc": ("body", "phone"), "msg": exc.message, "type": exc.code, "input": body.phone}]
        ) from None
    clients = provider_clients(request)
    started = await collect.start_mobile_payment(
        session,
        invoice_id=invoice.id,
        method=body.method,
        idempotency_key=idempotency_key,
        user_id=user.id,
        billing=settings.billing,
        available=set(clients),
    )
    payment = started.payment
    if not started.created:
        return PayNowOut(payment=PaymentOut.of(payment), operator=started.operator)
    await audit.record(
        session,
        action="payment.request",
        actor_id=user.id,
        ip=ip,
        target_type="payment",
        target_id=payment.id,
        detail={"method": payment.method.value, "invoice_id": invoice.id},
    )
    # Committed before the provider hears of it: its callback may come at once.
    await session.commit()
    base = settings.payments.callback_base_url
    asked = PaymentRequest(
        reference=payment.reference,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        payer_phone=phone,
        message=f"WaterBill {invoice.number or invoice.id}",
        callback_url=f"{base.rstrip('/')}/payments/webhooks/{payment.method.value}"
        if base
        else None,
    )
    try:
        finish_url = await asyncio.to_thread(clients[payment.method].request_to_pay, asked)
    except ProviderUnavailable as exc:
        await collect.request_failed(session, payment_id=payment.id, reason=exc.message)
        await session.commit()
        raise
    return PayNowOut(
        payment=PaymentOut.of(payment), operator=started.operator, finish_url=finish_url
    )


@router.get(
    "/payments/{payment_id}/receipt", response_model=ReceiptOut, responses=error_responses(404)
)
async def payment_receipt(payment_id: PathId, session: SessionDep, user: Reader) -> ReceiptOut:
    """A payment with the invoices it paid, what is still owed and the credit left."""
    made_at = func.coalesce(Payment.received_at, Payment.created_at)
    reach = scope.dwelling_held_at(user, Payment.dwelling_id, made_at)
    statement = select(Payment).where(Payment.id == payment_id)
    payment = await session.scalar(statement if reach is None else statement.where(reach))
    if payment is None:
        raise PaymentNotFound(f"payment {payment_id} does not exist")
    return ReceiptOut.of(await collect.receipt(session, payment=payment))
