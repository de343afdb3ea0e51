"""Asking the mobile money providers: a request to pay, and where a payment stands.

A customer's "pay now" is a request to pay through a ``ProviderClient``: MTN MoMo's collection
API (``POST /collection/v1_0/requesttopay``: the payer approves on their phone) and Orange
Money's web payment (``POST /webpayment``: the payer finishes on Orange's page). Papua New
Guinea's CellMoni is reached through the same MoMo collection API shape at its own URL (the
aggregator contract we assume; its client is the MoMo one with another base URL and secrets).

Mobile money callbacks may never come, so pending payments are also polled: MoMo's
``GET /collection/v1_0/requesttopay/{ref}`` and Orange Money's ``POST /transactionstatus``.
Tests point the clients at a local HTTP fake (tests/payment_provider_fake.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from billing.payments.exceptions import ProviderUnavailable
from billing.payments.providers import PaymentMethod, ProviderEvent, momo_event, orange_event
from core.config_billing import PaymentsSettings
from core.money import Money, get_currency


@dataclass(frozen=True)
class PendingPayment:
    """What a status poll needs to know about one of our pending payments."""

    reference: str
    amount_minor: int
    currency: str


@dataclass(frozen=True)
class PaymentRequest:
    """A request to pay one of our pending payments from the payer's mobile money account."""

    reference: str
    amount_minor: int
    currency: str
    # E.164, as the payer typed it and we normalised it.
    payer_phone: str
    # Shown to the payer by the provider (their approval prompt, their statement).
    message: str
    callback_url: str | None = None


class ProviderClient(Protocol):
    """Asks a provider to collect a payment, and where one of our payments stands (for
    callbacks that never came)."""

    method: PaymentMethod

    def status(self, payment: PendingPayment) -> ProviderEvent: ...

    def request_to_pay(self, request: PaymentRequest) -> str | None:
        """Ask the provider to collect ``request``; the page where the payer finishes, if the
        provider has one (None: the payer approves on their phone)."""
        ...


def _momo_amount(amount_minor: int, currency: str) -> str:
    """An amount as the MoMo API writes it: major units of the currency ("1500", "31.37")."""
    return str(Money.from_minor(amount_minor, get_currency(currency)).amount)


class MomoCollectionClient:
    """The MoMo collection API: ``POST /collection/v1_0/requesttopay`` (the payer approves on
    their phone) and ``GET /collection/v1_0/requesttopay/{referenceId}``. MTN MoMo's, and the
    same API shape at CellMoni's URL for Papua New Guinea (module docstring).

    MoMo's ``referenceId`` must be a UUID: payments asked through it take one as reference
    (``service.request_mobile_payment``), so the status path and ``externalId`` are ours.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str,
        subscription_key: str = "",
        method: PaymentMethod = PaymentMethod.MTN_MOMO,
    ) -> None:
        self.method = method
        headers = {"X-Target-Environment": "production"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if subscription_key:
            headers["Ocp-Apim-Subscription-Key"] = subscription_key
        self._http = httpx.Client(base_url=base_url, timeout=10, headers=headers)

    def status(self, payment: PendingPayment) -> ProviderEvent:
        payload = _get_json(self._http, "GET", f"/collection/v1_0/requesttopay/{payment.reference}")
        event = momo_event(payload, event_id=None, method=self.method)
        return ProviderEvent(**{**event.__dict__, "event_id": f"poll:{event.event_id}"})

    def request_to_pay(self, request: PaymentRequest) -> str | None:
        headers = {"X-Reference-Id": request.reference}
        if request.callback_url:
            headers["X-Callback-Url"] = request.callback_url
        body = {
            "amount": _momo_amount(request.amount_minor, request.currency),
            "currency": request.currency,
            "externalId": request.reference,
            "payer": {"partyIdType": "MSISDN", "partyId": request.payer_phone.lstrip("+")},
            "payerMessage": request.message,
            "payeeNote": request.reference,
        }
        url = "/collection/v1_0/requesttopay"
        try:
            answer = self._http.post(url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"POST {url}: {exc}") from exc
        # 409: this referenceId was asked before (a retry of ours): the one request stands.
        if answer.status_code not in (200, 201, 202, 409):
            raise ProviderUnavailable(f"POST {url}: {answer.status_code} {answer.text[:200]}")
        return None


class OrangeMoneyClient:
    """Orange Money web payment API: ``POST /transactionstatus`` with the order id and amount."""

    method = PaymentMethod.ORANGE_MONEY

    def __init__(self, base_url: str, *, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=base_url, timeout=10, headers=headers)

    def status(self, payment: PendingPayment) -> ProviderEvent:
        asked = {
            "order_id": payment.reference,
            "amount": payment.amount_minor,
            "currency": payment.currency,
        }
        payload = {**asked, **_get_json(self._http, "POST", "/transactionstatus", json=asked)}
        event = orange_event(payload, event_id=None)
        return ProviderEvent(**{**event.__dict__, "event_id": f"poll:{event.event_id}"})

    def request_to_pay(self, request: PaymentRequest) -> str | None:
        """``POST /webpayment``: the answer's ``payment_url`` is where the payer finishes."""
        asked = {
            "order_id": request.reference,
            "amount": request.amount_minor,
            "currency": request.currency,
            "reference": request.message[:30],
            "notif_url": request.callback_url,
            "lang": "fr",
        }
        answer = _get_json(self._http, "POST", "/webpayment", json=asked)
        url = answer.get("payment_url")
        if not isinstance(url, str) or not url:
            raise ProviderUnavailable(f"POST /webpayment: no payment_url in {answer!r:.200}")
        return url


def _get_json(http: httpx.Client, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
    try:
        answer = http.request(method, url, **kwargs)
        answer.raise_for_status()
        payload = answer.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ProviderUnavailable(f"{method} {url}: {exc}") from exc
    if not isinstance(payload, dict):
        raise ProviderUnavailable(f"{method} {url}: answer is not a JSON object")
    return payload


def make_provider_clients(settings: PaymentsSettings) -> dict[PaymentMethod, ProviderClient]:
    """A client per provider with a configured URL; others are not polled."""
    clients: dict[PaymentMethod, ProviderClient] = {}
    if settings.mtn_momo_url:
        clients[PaymentMethod.MTN_MOMO] = MomoCollectionClient(
            settings.mtn_momo_url,
            token=settings.mtn_momo_token.get_secret_value(),
            subscription_key=settings.mtn_momo_subscription_key.get_secret_value(),
        )
    if settings.cellmoni_url:
        clients[PaymentMethod.CELLMONI] = MomoCollectionClient(
            settings.cellmoni_url,
            token=settings.cellmoni_token.get_secret_value(),
            method=PaymentMethod.CELLMONI,
        )
    if settings.orange_money_url:
        clients[PaymentMethod.ORANGE_MONEY] = OrangeMoneyClient(
            settings.orange_money_url, token=settings.orange_money_token.get_secret_value()
        )
    return clients
