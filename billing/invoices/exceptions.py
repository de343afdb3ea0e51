"""Invoice lifecycle errors.

Tree::

    core.exceptions.AppError
    ├── NotFound (404)
    │   └── InvoiceNotFound         no invoice with this id (or out of the user's reach)
    └── Conflict (409)
        ├── InvoiceImmutable        the invoice is issued (or void): its content never changes
        ├── InvalidTransition       the invoice's status does not allow this (issue, void, approve)
        ├── GraceNotOver            issuing before late readings may still reach the drafts
        └── DuplicateApproval       the same administrator approves a regularisation twice
"""

from __future__ import annotations

from core.exceptions import Conflict, NotFound


class InvoiceNotFound(NotFound):
    pass


class InvoiceImmutable(Conflict):
    pass


class InvalidTransition(Conflict):
    pass


class GraceNotOver(Conflict):
    pass


class DuplicateApproval(Conflict):
    pass
