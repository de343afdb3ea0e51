"""Dwellings and who occupies them (tenants and owners, with dates).

Customers see the dwellings they occupy; managers see and manage those of their buildings,
including the tenant links; admins everything.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, status

from accounts import scope
from accounts.models import User
from accounts.permissions import Permission
from api.auth.deps import ClientIp
from api.auth.guards import require
from api.deps import SessionDep
from api.errors import error_responses
from api.params import FilterId, Limit, Offset, PathId
from core import audit
from core.audit import AuditAction
from registry import service as registry_service
from registry.models import Dwelling, DwellingOccupant
from registry.schemas import (
    DwellingIn,
    DwellingOut,
    DwellingPatch,
    OccupantEnd,
    OccupantIn,
    OccupantOut,
)

router = APIRouter(prefix="/dwellings", tags=["dwellings"], responses=error_responses(401, 403))


@router.get("", response_model=list[DwellingOut])
async def list_dwellings(
    session: SessionDep,
    user: Annotated[User, require(Permission.DWELLINGS_READ)],
    building_id: FilterId = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[Dwelling]:
    """The dwellings in the user's reach, optionally of one building."""
    return await registry_service.list_dwellings(
        session,
        in_reach=scope.dwelling_ids(user),
        building_id=building_id,
        limit=limit,
        offset=offset,
    )


@router.get("/{dwelling_id}", response_model=DwellingOut, responses=error_responses(404))
async def get_dwelling(
    dwelling_id: PathId,
    session: SessionDep,
    user: Annotated[User, require(Permission.DWELLINGS_READ)],
) -> Dwelling:
    """One dwelling."""
    return await scope.ensure_dwelling(session, user=user, dwelling_id=dwelling_id)


@router.post(
    "",
    response_model=DwellingOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(404, 409),
)
async def create_dwelling(
    body: DwellingIn,
    session: SessionDep,
    user: Annotated[User, require(Permission.DWELLINGS_WRITE)],
) -> Dwelling:
    """Add a dwelling to a building (managers: to their buildings)."""
    await scope.ensure_building(session, user=user, building_id=body.building_id)
    return await registry_service.create_dwelling(
        session,
        building_id=body.building_id,
        reference=body.reference,
        dwelling_type=body.dwelling_type,
        occupancy=body.occupancy,
        occupants=body.occupants,
    )


@router.patch("/{dwelling_id}", response_model=DwellingOut, responses=error_responses(404, 409))
async def update_dwelling(
    dwelling_id: PathId,
    body: DwellingPatch,
    session: SessionDep,
    user: Annotated[User, require(Permission.DWELLINGS_WRITE)],
) -> Dwelling:
    """Change a dwelling's reference, type, occupancy or number of occupants."""
    await scope.ensure_dwelling(session, user=user, dwelling_id=dwelling_id)
    return await registry_service.update_dwelling(
        session, dwelling_id=dwelling_id, changes=body.model_dump(exclude_none=True)
    )


@router.get(
    "/{dwelling_id}/occupants", response_model=list[OccupantOut], responses=error_responses(404)
)
async def list_occupants(
    dwelling_id: PathId,
    session: SessionDep,
    user: Annotated[User, require(Permission.USERS_READ)],
) -> list[DwellingOccupant]:
    """Tenants and owners of a dwelling, past and present."""
    await scope.ensure_dwelling(session, user=user, dwelling_id=dwelling_id)
    return await registry_service.list_occupants(session, dwelling_id=dwelling_id)


@router.post(
    "/{dwelling_id}/occupants",
    response_model=OccupantOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(404, 422),
)
async def add_occupant(
    dwelling_id: PathId,
    body: OccupantIn,
    session: SessionDep,
    user: Annotated[User, require(Permission.OCCUPANTS_WRITE)],
    ip: ClientIp,
) -> DwellingOccupant:
    """Link a tenant or owner to the dwelling from a date (managers: customers only, see the
    security page of the docs)."""
    await scope.ensure_dwelling(session, user=user, dwelling_id=dwelling_id)
    await scope.ensure_linkable_user(session, user=user, user_id=body.user_id)
    occupant = await registry_service.add_occupant(
        session,
        dwelling_id=dwelling_id,
        user_id=body.user_id,
        relation=body.relation,
        start_date=body.start_date,
        end_date=body.end_date,
    )
    await audit.record(
        session,
        action=AuditAction.LINK_CHANGED,
        actor_id=user.id,
        ip=ip,
        target_type="dwelling",
        target_id=dwelling_id,
        detail={"occupant_added": body.user_id, "relation": body.relation.value},
    )
    return occupant


@router.patch(
    "/{dwelling_id}/occupants/{occupant_id}",
    response_model=OccupantOut,
    responses=error_responses(404, 422),
)
async def end_occupancy(
    dwelling_id: PathId,
    occupant_id: PathId,
    body: OccupantEnd,
    session: SessionDep,
    user: Annotated[User, require(Permission.OCCUPANTS_WRITE)],
    ip: ClientIp,
) -> DwellingOccupant:
    """Set the date a tenant or owner leaves."""
    await scope.ensure_dwelling(session, user=user, dwelling_id=dwelling_id)
    occupant = await registry_service.end_occupancy(
        session, dwelling_id=dwelling_id, occupant_id=occupant_id, end_date=body.end_date
    )
    await audit.record(
        session,
        action=AuditAction.LINK_CHANGED,
        actor_id=user.id,
        ip=ip,
        target_type="dwelling",
        target_id=dwelling_id,
        detail={"occupant_ended": occupant.user_id, "end_date": body.end_date.isoformat()},
    )
    return occupant
