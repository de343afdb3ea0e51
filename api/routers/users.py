"""Users: one's own profile, data export and erasure; managers their tenants; admins everyone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Response, status
from fastapi.responses import JSONResponse

from accounts import scope, staff
from accounts.models import Role, User
from accounts.permissions import Permission, has_permission
from accounts.schemas import ErasureIn, ProfilePatch, UserIn, UserOut, UserPatch
from api.auth.deps import ClientIp, check_password, parse_phone
from api.auth.guards import require
from api.deps import SessionDep, SettingsDep
from api.errors import error_responses
from api.params import Limit, Offset, PathId
from core.exceptions import PermissionDenied
from privacy import service as gdpr
from registry.models import TechnicianAssignment
from registry.schemas import AssignmentIn, AssignmentOut

router = APIRouter(prefix="/users", tags=["users"], responses=error_responses(401, 403))


@router.get("/me", response_model=UserOut)
async def me(user: Annotated[User, require(Permission.PROFILE)]) -> User:
    """The signed-in user's profile."""
    return user


@router.patch("/me", response_model=UserOut)
async def update_me(
    body: ProfilePatch,
    session: SessionDep,
    user: Annotated[User, require(Permission.PROFILE)],
    ip: ClientIp,
) -> User:
    """Change one's names or language."""
    changes = body.model_dump(exclude_none=True)
    return await staff.update_user(session, user=user, changes=changes, actor=user, ip=ip)


@router.get(
    "/me/export",
    response_class=JSONResponse,
    responses={200: {"description": "A JSON file, sent as an attachment."}},
)
async def export_me(
    session: SessionDep, user: Annotated[User, require(Permission.PROFILE)], ip: ClientIp
) -> JSONResponse:
    """Download everything held about oneself (profile, dwellings, invoices, payments,
    consumption, every SMS sent), as a JSON file."""
    data = await gdpr.export_user_data(session, user=user, ip=ip)
    name = f"waterbill-data-{user.id}-{datetime.now(UTC):%Y%m%d}.json"
    return JSONResponse(data, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post(
    "/me/erase",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(409),
)
async def erase_me(
    body: ErasureIn,
    session: SessionDep,
    user: Annotated[User, require(Permission.PROFILE)],
    ip: ClientIp,
) -> None:
    """Erase one's personal data (invoices and payments stay for their legal retention)."""
    await gdpr.erase_own_data(session, user=user, password=body.password, ip=ip)


@router.get("", response_model=list[UserOut])
async def list_users(
    session: SessionDep,
    user: Annotated[User, require(Permission.USERS_READ)],
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[User]:
    """Users in reach: managers see the occupants of their buildings, admins everyone."""
    return await staff.list_users(session, user=user, limit=limit, offset=offset)


@router.get("/{user_id}", response_model=UserOut, responses=error_responses(404))
async def get_user(
    user_id: PathId, session: SessionDep, user: Annotated[User, require(Permission.USERS_READ)]
) -> User:
    """One user in reach."""
    return await scope.ensure_user(session, user=user, user_id=user_id)


@router.post(
    "",
    response_model=UserOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(409, 422),
)
async def create_user(
    body: UserIn,
    session: SessionDep,
    settings: SettingsDep,
    actor: Annotated[User, require(Permission.USERS_WRITE)],
    ip: ClientIp,
) -> User:
    """Create an active account; managers may create customers only (then link them)."""
    if body.role is not Role.CUSTOMER and not has_permission(actor, Permission.ROLES_WRITE):
        raise PermissionDenied(f"role {actor.role.value} may create customers only")
    phone = parse_phone(body.phone, settings=settings)
    check_password(
        body.password, settings=settings, user_inputs=(phone, body.first_name, body.last_name)
    )
    return await staff.create_user(
        session,
        phone=phone,
        first_name=body.first_name,
        last_name=body.last_name,
        password=body.password,
        language=body.language,
        role=body.role,
        actor=actor,
        ip=ip,
    )


@router.patch("/{user_id}", response_model=UserOut, responses=error_responses(404, 409))
async def update_user(
    user_id: PathId,
    body: UserPatch,
    session: SessionDep,
    actor: Annotated[User, require(Permission.USERS_WRITE)],
    ip: ClientIp,
) -> User:
    """Change a user's profile; role and active flag are for admins."""
    target = await scope.ensure_user(session, user=actor, user_id=user_id)
    changes = body.model_dump(exclude_none=True)
    if {"role", "is_active"} & set(changes) and not has_permission(actor, Permission.ROLES_WRITE):
        raise PermissionDenied(f"role {actor.role.value} may not change roles or activation")
    return await staff.update_user(session, user=target, changes=changes, actor=actor, ip=ip)


@router.post(
    "/{user_id}/erase",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(404, 409),
)
async def erase_user(
    user_id: PathId,
    session: SessionDep,
    actor: Annotated[User, require(Permission.ROLES_WRITE)],
    ip: ClientIp,
) -> None:
    """Erase a user's personal data on their request (admins)."""
    target = await scope.ensure_user(session, user=actor, user_id=user_id)
    await gdpr.erase_user(session, user=target, actor=actor, ip=ip)


@router.post(
    "/{user_id}/assignments",
    response_model=AssignmentOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(404, 422),
)
async def assign_round(
    user_id: PathId,
    body: AssignmentIn,
    session: SessionDep,
    actor: Annotated[User, require(Permission.ASSIGNMENTS_WRITE)],
) -> TechnicianAssignment:
    """Put a building or a meter on a technician's round."""
    return await staff.assign_round(
        session, actor=actor, user_id=user_id, building_id=body.building_id, meter_id=body.meter_id
    )
