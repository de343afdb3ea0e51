"""Field errors.

Tree::

    core.exceptions.AppError
    ├── InvalidInput (422)
    │   └── InvalidPhoto          not a JPEG/PNG/WebP, empty, or too large
    ├── Conflict (409)
    │   └── IdempotencyKeyReused  a key already used for another request (or another user)
    └── NotFound (404)
        └── FaultNotFound
"""

from __future__ import annotations

from core.exceptions import Conflict, InvalidInput, NotFound


class InvalidPhoto(InvalidInput):
    pass


class IdempotencyKeyReused(Conflict):
    pass


class FaultNotFound(NotFound):
    pass
