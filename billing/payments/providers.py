"""Payment providers: the payment methods, webhook verification and parsing, behind one event.

Each provider tells us about a payment in its own words; everything here turns them into one
``ProviderEvent`` (our payment reference, the outcome, the amount, the provider's event id).
Asking a provider (request to pay, status polls) is ``billing.payments.clients``.

Webhooks are authenticated with a shared secret, HMAC-SHA256, compared in constant time:

- ``card``: ``Webhook-Signature: t=<unix seconds>,v1=<hex>`` over ``"<t>.<raw body>"`` (the
  acquirers' scheme: the timestamp inside the signature bounds replays to
  ``webhook_tolerance_s``).
- ``orange_money``, ``mtn_momo`` and ``cellmoni``: ``X-Signature: <hex>`` over the raw body (the
  shared-secret callback scheme aggregators use; the event id makes a replay harmless).
  MoMo-shaped bodies (MTN MoMo, CellMoni) carry amounts in major units of their currency.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from billing.payments.exceptions import (
    InvalidWebhook,
    WebhookSignatureInvalid,
)
from core.config_billing import PaymentsSettings
from core.money import UnknownCurrency, get_currency

logger = logging.getLogger(__name__)


class PaymentMethod(StrEnum):
    CARD = "card"
    ORANGE_MONEY = "orange_money"
    MTN_MOMO = "mtn_momo"
    CELLMONI = "cellmoni"
    BANK_TRANSFER = "bank_transfer"
    CASH = "cash"


class PaymentStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


# Methods whose payments are confirmed by a provider (webhook or poll), not by whoever records them.
MOBILE_MONEY = frozenset(
    {PaymentMethod.ORANGE_MONEY, PaymentMethod.MTN_MOMO, PaymentMethod.CELLMONI}
)
PROVIDER_METHODS = MOBILE_MONEY | {PaymentMethod.CARD}
# Providers speaking the MoMo collection API (request to pay, status, callback body).
MOMO_SHAPED = frozenset({PaymentMethod.MTN_MOMO, PaymentMethod.CELLMONI})


@dataclass(frozen=True)
class ProviderEvent:
    """What a provider says about one of our payments."""

    method: PaymentMethod
    event_id: str
    reference: str
    status: PaymentStatus
    amount_minor: int | None = None
    currency: str | None = None
    provider_ref: str | None = None


def sign(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _secret(method: PaymentMethod, settings: PaymentsSettings) -> str:
    secrets = {
        PaymentMethod.CARD: settings.card_webhook_secret,
        PaymentMethod.ORANGE_MONEY: settings.orange_money_webhook_secret,
        PaymentMethod.MTN_MOMO: settings.mtn_momo_webhook_secret,
        PaymentMethod.CELLMONI: settings.cellmoni_webhook_secret,
    }
    secret = secrets[method].get_secret_value()
    if not secret:
        # Unsigned callbacks would let anyone mark invoices paid: refuse them all.
        raise WebhookSignatureInvalid(f"{method.value} webhooks are not configured (no secret)")
    return secret


def verify_signature(
    method: PaymentMethod,
    *,
    headers: Mapping[str, str],
    body: bytes,
    settings: PaymentsSettings,
    now_s: float,
) -> None:
    """Raise ``WebhookSignatureInvalid`` unless ``body`` carries the provider's valid signature."""
    secret = _secret(method, settings)
    if method is PaymentMethod.CARD:
        header = headers.get("webhook-signature")
        if not header:
            raise WebhookSignatureInvalid("missing Webhook-Signature header")
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        stamp, given = parts.get("t", ""), parts.get("v1", "")
        if not stamp.isdigit() or not given:
            raise WebhookSignatureInvalid("Webhook-Signature must be 't=<unix>,v1=<hex>'")
        if abs(now_s - int(stamp)) > settings.webhook_tolerance_s:
            raise WebhookSignatureInvalid(
                f"Webhook-Signature timestamp is more than {settings.webhook_tolerance_s} s away"
            )
        expected = sign(secret, stamp.encode() + b"." + body)
    else:
        given = headers.get("x-signature", "")
        if not given:
            raise WebhookSignatureInvalid("missing X-Signature header")
        expected = sign(secret, body)
    if not hmac.compare_digest(expected.encode(), given.strip().lower().encode()):
        raise WebhookSignatureInvalid(f"{method.value} webhook signature does not match the body")


# Far above any water bill, far below BIGINT: a bigger "amount" is garbage, not money.
MAX_MINOR = 10**15


def _minor(value: Any, field: str) -> int:
    """An amount as providers send it (``"1500"``, ``1500``): whole minor units only."""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise InvalidWebhook(f"{field} {value!r} is not a number") from None
    if not amount.is_finite() or amount != amount.to_integral_value() or amount <= 0:
        raise InvalidWebhook(f"{field} {value!r} is not a positive whole amount")
    if amount > MAX_MINOR:
        raise InvalidWebhook(f"{field} {value!r} is beyond any payment")
    return int(amount)


def _major_amount(value: Any, currency: str) -> int:
    """A MoMo amount: major units of ``currency`` ("1500" XAF, "31.37" PGK), in minor units."""
    try:
        digits = get_currency(currency).minor_units
    except UnknownCurrency as exc:
        raise InvalidWebhook(str(exc)) from None
    try:
        scaled = Decimal(str(value)).scaleb(digits)
    except InvalidOperation:
        raise InvalidWebhook(f"amount {value!r} is not a number") from None
    if not scaled.is_finite() or scaled != scaled.to_integral_value() or scaled <= 0:
        raise InvalidWebhook(f"amount {value!r} is not a positive whole amount of {currency}")
    return _minor(int(scaled), "amount")


def _optional_text(payload: Mapping[str, Any], key: str, max_len: int = 128) -> str | None:
    return _text(payload, key, max_len) if payload.get(key) not in (None, "") else None


def _text(payload: Mapping[str, Any], key: str, max_len: int = 128) -> str:
    value = payload.get(key)
    if not isinstance(value, str | int) or isinstance(value, bool) or str(value) == "":
        raise InvalidWebhook(f"field {key!r} is missing or not a string")
    text = str(value)
    if len(text) > max_len:
        raise InvalidWebhook(f"field {key!r} is longer than {max_len} characters")
    return text


_MOMO_STATUS = {
    "SUCCESSFUL": PaymentStatus.SUCCEEDED,
    "FAILED": PaymentStatus.FAILED,
    "REJECTED": PaymentStatus.FAILED,
    "TIMEOUT": PaymentStatus.FAILED,
    "PENDING": PaymentStatus.PENDING,
}
_ORANGE_STATUS = {
    "SUCCESS": PaymentStatus.SUCCEEDED,
    "FAILED": PaymentStatus.FAILED,
    "EXPIRED": PaymentStatus.FAILED,
    "PENDING": PaymentStatus.PENDING,
    "INITIATED": PaymentStatus.PENDING,
}
_CARD_TYPES = {
    "payment.succeeded": PaymentStatus.SUCCEEDED,
    "payment.failed": PaymentStatus.FAILED,
}


def _status(table: Mapping[str, PaymentStatus], value: str, field: str) -> PaymentStatus:
    found = table.get(value) or table.get(value.upper())
    if found is None:
        raise InvalidWebhook(f"{field} {value!r} is not one of {', '.join(table)}")
    return found


def momo_event(
    payload: Mapping[str, Any], *, event_id: str | None, method: PaymentMethod
) -> ProviderEvent:
    reference = _text(payload, "externalId")
    status = _status(_MOMO_STATUS, _text(payload, "status"), "status")
    transaction = _optional_text(payload, "financialTransactionId")
    amount = payload.get("amount")
    # A body without its currency still says first what is wrong with its amount.
    amount_minor = _minor(amount, "amount") if not payload.get("currency") else None
    currency = _text(payload, "currency", 3).upper()
    return ProviderEvent(
        method=method,
        event_id=event_id or f"{transaction or reference}:{status.value}",
        reference=reference,
        status=status,
        amount_minor=amount_minor or _major_amount(amount, currency),
        currency=currency,
        provider_ref=transaction,
    )


def orange_event(payload: Mapping[str, Any], *, event_id: str | None) -> ProviderEvent:
    reference = _text(payload, "order_id")
    status = _status(_ORANGE_STATUS, _text(payload, "status"), "status")
    transaction = _optional_text(payload, "txnid")
    return ProviderEvent(
        method=PaymentMethod.ORANGE_MONEY,
        event_id=event_id or f"{transaction or reference}:{status.value}",
        reference=reference,
        status=status,
        amount_minor=_minor(payload.get("amount"), "amount"),
        currency=_text(payload, "currency", 3).upper(),
        provider_ref=transaction,
    )


def _card_event(payload: Mapping[str, Any]) -> ProviderEvent:
    data = payload.get("data")
    if not isinstance(data, dict):
        raise InvalidWebhook("field 'data' is missing or not an object")
    return ProviderEvent(
        method=PaymentMethod.CARD,
        event_id=_text(payload, "id"),
        reference=_text(data, "reference"),
        status=_status(_CARD_TYPES, _text(payload, "type"), "type"),
        amount_minor=_minor(data.get("amount"), "amount"),
        currency=_text(data, "currency", 3).upper(),
        provider_ref=_optional_text(data, "transaction_id"),
    )


def parse_webhook(method: PaymentMethod, body: bytes) -> ProviderEvent:
    """The event in a verified webhook body; ``InvalidWebhook`` (422) says what is wrong."""
    if method not in PROVIDER_METHODS:
        raise InvalidWebhook(f"{method.value} payments have no webhooks")
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidWebhook(f"body is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise InvalidWebhook("body must be a JSON object")
    if method is PaymentMethod.CARD:
        return _card_event(payload)
    if method in MOMO_SHAPED:
        return momo_event(payload, event_id=None, method=method)
    return orange_event(payload, event_id=None)
