"""Zones: the areas buildings belong to (and their time zone)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, status

from accounts.models import User
from accounts.permissions import Permission
from api.auth.guards import require
from api.deps import SessionDep
from api.errors import error_responses
from api.params import Limit, Offset
from registry import service as registry_service
from registry.models import Zone
from registry.schemas import ZoneIn, ZoneOut

router = APIRouter(prefix="/zones", tags=["zones"], responses=error_responses(401, 403))


@router.get("", response_model=list[ZoneOut])
async def list_zones(
    session: SessionDep,
    _: Annotated[User, require(Permission.BUILDINGS_READ)],
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[Zone]:
    """Every zone (zones hold no personal data)."""
    return await registry_service.list_zones(session, limit=limit, offset=offset)


@router.post(
    "",
    response_model=ZoneOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(404, 409, 422),
)
async def create_zone(
    body: ZoneIn, session: SessionDep, _: Annotated[User, require(Permission.BUILDINGS_WRITE)]
) -> Zone:
    """Create a zone in a country."""
    return await registry_service.create_zone(
        session,
        country_code=body.country_code,
        code=body.code,
        name=body.name,
        timezone=body.timezone,
    )
