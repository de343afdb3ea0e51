"""Buildings: admins manage them all; managers and technicians see the ones they work on."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response, status

from accounts import scope, staff
from accounts.models import User
from accounts.permissions import Permission
from api.auth.deps import ClientIp
from api.auth.guards import require
from api.deps import SessionDep
from api.errors import error_responses
from api.params import Limit, Offset, PathId
from core import audit
from core.audit import AuditAction
from registry import service as registry_service
from registry.models import Building
from registry.schemas import BuildingIn, BuildingOut, BuildingPatch

router = APIRouter(prefix="/buildings", tags=["buildings"], responses=error_responses(401, 403))


@router.get("", response_model=list[BuildingOut])
async def list_buildings(
    session: SessionDep,
    user: Annotated[User, require(Permission.BUILDINGS_READ)],
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[Building]:
    """The buildings in the user's reach."""
    return await registry_service.list_buildings(
        session, in_reach=scope.building_ids(user), limit=limit, offset=offset
    )


@router.get("/{building_id}", response_model=BuildingOut, responses=error_responses(404))
async def get_building(
    building_id: PathId,
    session: SessionDep,
    user: Annotated[User, require(Permission.BUILDINGS_READ)],
) -> Building:
    """One building."""
    return await scope.ensure_building(session, user=user, building_id=building_id)


@router.post(
    "",
    response_model=BuildingOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(404),
)
async def create_building(
    body: BuildingIn,
    session: SessionDep,
    _: Annotated[User, require(Permission.BUILDINGS_WRITE)],
) -> Building:
    """Create a building in a zone."""
    return await registry_service.create_building(
        session, zone_id=body.zone_id, name=body.name, address=body.address
    )


@router.patch("/{building_id}", response_model=BuildingOut, responses=error_responses(404))
async def update_building(
    building_id: PathId,
    body: BuildingPatch,
    session: SessionDep,
    _: Annotated[User, require(Permission.BUILDINGS_WRITE)],
) -> Building:
    """Rename, re-address or move a building to another zone."""
    return await registry_service.update_building(
        session, building_id=building_id, changes=body.model_dump(exclude_none=True)
    )


@router.put(
    "/{building_id}/managers/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(404, 422),
)
async def add_manager(
    building_id: PathId,
    user_id: PathId,
    session: SessionDep,
    admin: Annotated[User, require(Permission.ASSIGNMENTS_WRITE)],
    ip: ClientIp,
) -> None:
    """Make a manager responsible for the building."""
    await staff.add_building_manager(session, building_id=building_id, user_id=user_id)
    await audit.record(
        session,
        action=AuditAction.LINK_CHANGED,
        actor_id=admin.id,
        ip=ip,
        target_type="building",
        target_id=building_id,
        detail={"manager_added": user_id},
    )


@router.delete(
    "/{building_id}/managers/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(404),
)
async def remove_manager(
    building_id: PathId,
    user_id: PathId,
    session: SessionDep,
    admin: Annotated[User, require(Permission.ASSIGNMENTS_WRITE)],
    ip: ClientIp,
) -> None:
    """Stop a manager being responsible for the building."""
    await registry_service.set_building_manager(
        session, building_id=building_id, user_id=user_id, managed=False
    )
    await audit.record(
        session,
        action=AuditAction.LINK_CHANGED,
        actor_id=admin.id,
        ip=ip,
        target_type="building",
        target_id=building_id,
        detail={"manager_removed": user_id},
    )
