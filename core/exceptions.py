"""Errors the application reports to its clients.

Tree::

    AppError (500)
    ├── NotFound (404)
    ├── Conflict (409)
    ├── InvalidInput (422)
    ├── PayloadTooLarge (413)
    ├── PermissionDenied (403)
    ├── NotAuthenticated (401)
    ├── TooManyRequests (429, with Retry-After)
    └── Unavailable (503)

Domain packages subclass these in their own ``exceptions.py``; the API renders every one as
``{"error": ClassName, "detail": message}`` with its status code.
"""

from __future__ import annotations

import math
from typing import ClassVar


class AppError(Exception):
    status_code: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def headers(self) -> dict[str, str]:
        """Extra response headers (Retry-After, WWW-Authenticate)."""
        return {}


class NotFound(AppError):
    status_code = 404


class Conflict(AppError):
    status_code = 409


class InvalidInput(AppError):
    status_code = 422


class PayloadTooLarge(AppError):
    status_code = 413


class PermissionDenied(AppError):
    status_code = 403


class NotAuthenticated(AppError):
    status_code = 401

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class TooManyRequests(AppError):
    status_code = 429

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = max(1, math.ceil(retry_after_s))

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class Unavailable(AppError):
    status_code = 503
