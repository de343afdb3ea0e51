"""Billing errors.

Tree::

    core.exceptions.AppError
    ├── NotFound (404)
    │   ├── TariffNotFound          no tariff version with this id
    │   ├── UnknownZone             no zone with this id
    │   ├── InvoiceNotFound         no invoice with this id (or out of the user's reach)
    │   └── HoldNotFound            no billing hold with this id
    ├── Conflict (409)
    │   ├── TariffMissing           no tariff in force for a zone on a date: nothing can be billed
    │   └── TariffVersionExists     a version already starts that day for that country/zone
    │   ├── InvoiceImmutable        the invoice is issued (or void): its content never changes
    │   ├── InvalidTransition       the invoice's status does not allow this (issue, void, approve)
    │   ├── GraceNotOver            issuing before late readings may still reach the drafts
    │   ├── DuplicateApproval       the same administrator approves a regularisation twice
    │   └── HoldNotReleasable       only a tamper hold is released by review; others need data
    └── InvalidInput (422)
        ├── InvalidTariff           a tariff breaks a rule (blocks, prices, dates, currency)
        ├── InvalidConsumption      a volume or period the tariff maths cannot bill
        └── InvalidPeriod           a period label that is not YYYY-MM
"""

from __future__ import annotations

from core.exceptions import Conflict, InvalidInput, NotFound


class TariffNotFound(NotFound):
    pass


class UnknownZone(NotFound):
    pass


class TariffMissing(Conflict):
    pass


class TariffVersionExists(Conflict):
    pass


class InvalidTariff(InvalidInput):
    pass


class InvalidConsumption(InvalidInput):
    pass


class InvoiceNotFound(NotFound):
    pass


class HoldNotFound(NotFound):
    pass


class InvoiceImmutable(Conflict):
    pass


class InvalidTransition(Conflict):
    pass


class GraceNotOver(Conflict):
    pass


class DuplicateApproval(Conflict):
    pass


class HoldNotReleasable(Conflict):
    pass


class InvalidPeriod(InvalidInput):
    pass
