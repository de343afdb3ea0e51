"""Payment and penalty errors.

Tree::

    core.exceptions.AppError
    ├── NotAuthenticated (401)
    │   └── WebhookSignatureInvalid   a webhook's signature is missing, stale or wrong
    ├── NotFound (404)
    │   ├── PaymentNotFound           no payment with this id or provider reference
    │   └── PenaltyNotFound           no penalty proposal with this id
    ├── Conflict (409)
    │   ├── PaymentMismatch           a provider reports another amount or currency than asked
    │   ├── IdempotencyKeyReused      a pay-now key sent again for another invoice or method
    │   ├── NothingToPay              pay now on an invoice that owes nothing
    │   ├── PenaltyAlreadyDecided     the proposal was approved or rejected already
    │   └── PenaltyOnVoidInvoice      its invoice was voided: nothing is owed to add it to
    ├── InvalidInput (422)
    │   ├── InvalidPayment            a payment that cannot be recorded (amount, currency, method)
    │   └── InvalidWebhook            a verified webhook whose body we cannot read
    └── Unavailable (503)
        └── ProviderUnavailable       a provider did not answer a poll or a request to pay
"""

from __future__ import annotations

from core.exceptions import Conflict, InvalidInput, NotAuthenticated, NotFound, Unavailable


class WebhookSignatureInvalid(NotAuthenticated):
    @property
    def headers(self) -> dict[str, str]:
        return {}


class PaymentNotFound(NotFound):
    pass


class PenaltyNotFound(NotFound):
    pass


class PaymentMismatch(Conflict):
    pass


class IdempotencyKeyReused(Conflict):
    pass


class NothingToPay(Conflict):
    pass


class PenaltyAlreadyDecided(Conflict):
    pass


class PenaltyOnVoidInvoice(Conflict):
    pass


class InvalidPayment(InvalidInput):
    pass


class InvalidWebhook(InvalidInput):
    pass


class ProviderUnavailable(Unavailable):
    pass
