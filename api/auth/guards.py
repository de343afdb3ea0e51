"""Route guards: the permission a route needs, and the ``{meter_id}`` of its path in reach.

Attach a rule to a route in one line, either as a parameter (the user comes back)::

    async def readings(meter_id: int, user: Annotated[User, require(Permission.READINGS_READ)]):

or on the decorator/router: ``dependencies=[require(Permission.INGEST_STATUS)]``. Then narrow to the
objects the user may reach with ``accounts.scope``: ``await scope.ensure_meter(...)``, or for a
``{meter_id}`` route both at once, ``meter: Annotated[Meter, meter_in_reach(Permission.X)]``.
Every route of the app must carry a ``require`` or be listed in ``PUBLIC_PATHS``: a test enforces
it (tests/api/auth/test_access.py).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path

from accounts import scope
from accounts.models import User
from accounts.permissions import Permission, has_permission
from api.auth.deps import CurrentUser
from api.deps import SessionDep
from api.web.pages import page_paths
from core.exceptions import PermissionDenied
from registry.models import Meter

# Routes anyone may call; everything else must declare a rule. Web pages are shells whose data
# comes from the protected API, so they and their static assets are public.
PUBLIC_PATHS = page_paths() | frozenset(
    {
        "/health/live",
        "/health/ready",
        "/metrics",
        "/docs",
        "/docs/oauth2-redirect",
        "/openapi.json",
        "/redoc",
        "/auth/register",
        "/auth/activate",
        "/auth/resend-code",
        "/auth/login",
        "/auth/refresh",
        "/auth/logout",
        "/auth/password-reset/request",
        "/auth/password-reset/confirm",
        "/lang",
        "/static",
        # Providers authenticate by an HMAC signature over the body, checked in the route.
        "/payments/webhooks/{provider}",
        # Twilio signs inbound SMS (X-Twilio-Signature), checked in the route.
        "/sms/inbound",
    }
)


class Require:
    """The dependency behind ``require``; the route-rule test looks for instances of it."""

    def __init__(self, *permissions: Permission) -> None:
        self.permissions = permissions

    async def __call__(self, user: CurrentUser) -> User:
        missing = [p.value for p in self.permissions if not has_permission(user, p)]
        if missing:
            raise PermissionDenied(f"role {user.role.value} may not do this ({', '.join(missing)})")
        return user


def require(*permissions: Permission) -> Any:
    """``Depends`` on a signed-in user holding every one of ``permissions``."""
    return Depends(Require(*permissions))


class MeterInReach(Require):
    """A ``Require`` that also loads the ``{meter_id}`` of the path, in the user's reach."""

    async def __call__(  # type: ignore[override]
        self,
        meter_id: Annotated[int, Path(ge=1, le=2_147_483_647)],
        session: SessionDep,
        user: CurrentUser,
    ) -> Meter:
        await super().__call__(user)
        return await scope.ensure_meter(session, user=user, meter_id=meter_id)


def meter_in_reach(*permissions: Permission) -> Any:
    """``Depends`` on the path's ``{meter_id}`` being a meter the signed-in user holds
    ``permissions`` for and may reach (403 without the permission, 404 out of reach)::

        async def readings(meter: Annotated[Meter, meter_in_reach(Permission.READINGS_READ)]):
    """
    return Depends(MeterInReach(*permissions))
