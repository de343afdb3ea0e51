"""Meters: every role sees the meters in its reach; admins register, edit and replace them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, UploadFile, status
from sqlalchemy import select

from api.auth import scope
from api.auth.permissions import Permission, require
from api.deps import SessionDep
from api.errors import error_responses
from api.routers.registry_schemas import (
    ImportOut,
    Limit,
    MeterIn,
    MeterOut,
    MeterPatch,
    MeterReplaceIn,
    Offset,
    PathId,
)
from core import registry
from core.exceptions import Conflict, InvalidInput
from core.models import Dwelling, Meter, User

router = APIRouter(prefix="/meters", tags=["meters"], responses=error_responses(401, 403))

MAX_IMPORT_BYTES = 20 * 1024 * 1024


@router.get("", response_model=list[MeterOut])
async def list_meters(
    session: SessionDep,
    user: Annotated[User, require(Permission.METERS_READ)],
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[Meter]:
    """The meters in the user's reach."""
    statement = scope.restrict(select(Meter), Meter.id, scope.meter_ids(user))
    return list(await session.scalars(statement.order_by(Meter.id).limit(limit).offset(offset)))


@router.get("/{meter_id}", response_model=MeterOut, responses=error_responses(404))
async def get_meter(
    meter: Annotated[Meter, scope.meter_in_reach(Permission.METERS_READ)],
) -> Meter:
    """One meter."""
    return meter


@router.post(
    "",
    response_model=MeterOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(404, 409, 422),
)
async def create_meter(
    body: MeterIn, session: SessionDep, _: Annotated[User, require(Permission.METERS_WRITE)]
) -> Meter:
    """Register one meter, optionally on a dwelling."""
    if body.dwelling_id is not None:
        await registry.get_dwelling(session, dwelling_id=body.dwelling_id)
    result = await registry.register_meters(
        session, meters=[registry.MeterRegistration(**body.model_dump())]
    )
    if result.created != 1:
        raise Conflict(f"serial {body.serial!r} is already registered")
    return await registry.get_meter_by_serial(session, serial=body.serial)


@router.post("/import", response_model=ImportOut, responses=error_responses(404, 422))
async def import_meters(
    file: UploadFile, session: SessionDep, _: Annotated[User, require(Permission.METERS_WRITE)]
) -> ImportOut:
    """Register meters from a CSV file; every bad line is reported with its number."""
    raw = await file.read(MAX_IMPORT_BYTES + 1)
    if len(raw) > MAX_IMPORT_BYTES:
        raise InvalidInput(f"the file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MiB")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the file is not UTF-8 text") from None
    meters = registry.parse_meter_csv(text, now=datetime.now(UTC))
    dwelling_ids = {m.dwelling_id for m in meters if m.dwelling_id is not None}
    if dwelling_ids:
        known = set(await session.scalars(select(Dwelling.id).where(Dwelling.id.in_(dwelling_ids))))
        if unknown := sorted(dwelling_ids - known):
            raise InvalidInput(f"dwellings {unknown} do not exist")
    result = await registry.register_meters(session, meters=meters)
    return ImportOut(created=result.created, existing=result.existing)


@router.patch("/{meter_id}", response_model=MeterOut, responses=error_responses(404, 409))
async def update_meter(
    meter_id: PathId,
    body: MeterPatch,
    session: SessionDep,
    _: Annotated[User, require(Permission.METERS_WRITE)],
) -> Meter:
    """Assign a meter to a dwelling (or unassign with null), change its unit or interval."""
    # Only dwelling_id may be set to null (unassign); other nulls mean "leave as is".
    changes = {
        name: value
        for name, value in body.model_dump(exclude_unset=True).items()
        if value is not None or name == "dwelling_id"
    }
    return await registry.update_meter(session, meter_id=meter_id, changes=changes)


@router.post(
    "/{meter_id}/replace",
    response_model=MeterOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(404, 409, 422),
)
async def replace_meter(
    meter_id: PathId,
    body: MeterReplaceIn,
    session: SessionDep,
    _: Annotated[User, require(Permission.METERS_WRITE)],
) -> Meter:
    """Remove a meter at a time and install its replacement on the same dwelling."""
    replacement = registry.MeterRegistration(
        serial=body.serial,
        kind=body.kind,
        installed_at=body.at,
        unit=body.unit,
        register_digits=body.register_digits,
        initial_index_l=body.initial_index_l,
        reporting_interval_s=body.reporting_interval_s,
    )
    return await registry.replace_meter(
        session, meter_id=meter_id, replacement=replacement, at=body.at
    )
