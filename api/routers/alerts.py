"""A user's SMS alert preferences: the incident categories they do not want to hear about."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from accounts.models import User
from accounts.permissions import Permission
from analytics.alerts import service as alerts
from analytics.incidents.models import IncidentKind
from api.auth.deps import ClientIp
from api.auth.guards import require
from api.deps import SessionDep
from api.errors import error_responses
from api.routers.anomaly_schemas import AlertPreferences

router = APIRouter(prefix="/users/me/alerts", tags=["users"], responses=error_responses(401))


@router.get("", response_model=AlertPreferences)
async def get_alert_preferences(
    session: SessionDep, user: Annotated[User, require(Permission.PROFILE)]
) -> AlertPreferences:
    """The categories the signed-in user muted."""
    muted = await alerts.muted_categories(session, user_id=user.id)
    return AlertPreferences(muted=[IncidentKind(c) for c in muted])


@router.put("", response_model=AlertPreferences, responses=error_responses(422))
async def put_alert_preferences(
    body: AlertPreferences,
    session: SessionDep,
    user: Annotated[User, require(Permission.PROFILE)],
    ip: ClientIp,
) -> AlertPreferences:
    """Replace the muted categories (an empty list unmutes everything)."""
    muted = await alerts.set_muted_categories(
        session, user_id=user.id, categories=[k.value for k in body.muted], ip=ip
    )
    return AlertPreferences(muted=[IncidentKind(c) for c in muted])
