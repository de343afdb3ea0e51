"""Errors the application reports to its clients.

Tree::

    AppError (500)
    ├── NotFound (404)
    ├── Conflict (409)
    ├── InvalidInput (422)
    ├── PermissionDenied (403)
    ├── NotAuthenticated (401)
    └── Unavailable (503)

Domain packages subclass these in their own ``exceptions.py``; the API renders every one as
``{"error": ClassName, "detail": message}`` with its status code.
"""

from __future__ import annotations

from typing import ClassVar


class AppError(Exception):
    status_code: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(AppError):
    status_code = 404


class Conflict(AppError):
    status_code = 409


class InvalidInput(AppError):
    status_code = 422


class PermissionDenied(AppError):
    status_code = 403


class NotAuthenticated(AppError):
    status_code = 401


class Unavailable(AppError):
    status_code = 503
