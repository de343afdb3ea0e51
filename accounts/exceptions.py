"""Accounts errors: sign-in, tokens and SMS codes.

Tree::

    NotAuthenticated (401)
    ├── InvalidCredentials      wrong phone or password (never says which)
    ├── InvalidToken            forged, expired or wrong type
    └── RefreshTokenRejected    revoked, reused or unknown refresh token
    PermissionDenied (403)
    ├── AccountInactive         right password, account not activated yet
    └── CsrfRejected            a cookie refresh or logout not sent by the web app's own pages
    AppError (400)
    └── CodeRejected            SMS code wrong, used, expired or out of attempts
    Conflict (409)
    └── LastAdmin               the last active admin would be deactivated, demoted or erased

``AuthFailure`` marks the ones whose side effects (attempt counters, audit entries, a revoked
token family) must be committed although the request fails.
"""

from __future__ import annotations

from core.exceptions import AppError, Conflict, NotAuthenticated, PermissionDenied


class AuthFailure(AppError):
    """A failure that is itself recorded: the edge commits before answering."""


class InvalidToken(NotAuthenticated):
    pass


class InvalidCredentials(NotAuthenticated, AuthFailure):
    pass


class RefreshTokenRejected(NotAuthenticated, AuthFailure):
    pass


class AccountInactive(PermissionDenied, AuthFailure):
    pass


class CsrfRejected(PermissionDenied):
    pass


class CodeRejected(AuthFailure):
    status_code = 400


class LastAdmin(Conflict):
    pass
