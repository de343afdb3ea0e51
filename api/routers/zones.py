"""Zones: the areas buildings belong to (and their time zone)."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, status
from sqlalchemy import select

from api.auth.permissions import Permission, require
from api.deps import SessionDep
from api.errors import error_responses
from api.routers.registry_schemas import Limit, Offset, ZoneIn, ZoneOut
from core import registry
from core.exceptions import Conflict, InvalidInput, NotFound
from core.models import Country, User, Zone

router = APIRouter(prefix="/zones", tags=["zones"], responses=error_responses(401, 403))


@router.get("", response_model=list[ZoneOut])
async def list_zones(
    session: SessionDep,
    _: Annotated[User, require(Permission.BUILDINGS_READ)],
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[Zone]:
    """Every zone (zones hold no personal data)."""
    return list(await session.scalars(select(Zone).order_by(Zone.id).limit(limit).offset(offset)))


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
    if await session.get(Country, body.country_code) is None:
        raise NotFound(f"country {body.country_code} is not configured")
    if await session.scalar(select(Zone.id).where(Zone.code == body.code)) is not None:
        raise Conflict(f"zone code {body.code!r} is taken")
    if body.timezone is not None:
        try:
            ZoneInfo(body.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(f"timezone {body.timezone!r} is not an IANA time zone") from None
    return await registry.create_zone(
        session,
        country_code=body.country_code,
        code=body.code,
        name=body.name,
        timezone=body.timezone,
    )
