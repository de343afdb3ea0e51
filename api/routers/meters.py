"""Meters: every role sees the meters in its reach; admins register, edit and replace them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, UploadFile, status

from accounts import scope
from accounts.models import User
from accounts.permissions import Permission
from api.auth.guards import meter_in_reach, require
from api.deps import JobsDep, SessionDep, SettingsDep
from api.errors import error_responses
from api.params import Limit, Offset, PathId
from core.exceptions import InvalidInput, PayloadTooLarge
from jobs import service as job_service
from jobs.schemas import ImportQueued
from registry import credentials as registry_credentials
from registry import imports
from registry import service as registry_service
from registry.credentials import MeterCredentials
from registry.models import Meter
from registry.registration import MeterRegistration, parse_meter_csv
from registry.schemas import MeterIn, MeterOut, MeterPatch, MeterReplaceIn

router = APIRouter(prefix="/meters", tags=["meters"], responses=error_responses(401, 403))


@router.get("", response_model=list[MeterOut])
async def list_meters(
    session: SessionDep,
    user: Annotated[User, require(Permission.METERS_READ)],
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[Meter]:
    """The meters in the user's reach."""
    return await registry_service.list_meters(
        session, in_reach=scope.meter_ids(user), limit=limit, offset=offset
    )


@router.get("/{meter_id}", response_model=MeterOut, responses=error_responses(404))
async def get_meter(
    meter: Annotated[Meter, meter_in_reach(Permission.METERS_READ)],
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
    return await registry_service.create_meter(
        session, registration=MeterRegistration(**body.model_dump())
    )


@router.post(
    "/import",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ImportQueued,
    responses=error_responses(413, 422),
)
async def import_meters(
    file: UploadFile,
    session: SessionDep,
    settings: SettingsDep,
    jobs: JobsDep,
    _: Annotated[User, require(Permission.METERS_WRITE)],
) -> ImportQueued:
    """Check a meter CSV file (size and line caps: settings `METER_IMPORT__*`; every bad line
    is a 422 at once), then queue the job that registers it: follow it at `GET /jobs/{id}`."""
    caps = settings.meter_import
    raw = await file.read(caps.max_bytes + 1)
    if len(raw) > caps.max_bytes:
        raise PayloadTooLarge(
            f"the file is larger than {caps.max_bytes} bytes; split it into smaller files"
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the file is not UTF-8 text") from None
    meters = parse_meter_csv(text, max_rows=caps.max_rows, now=datetime.now(UTC))
    import_id = await imports.store_import(session, meters=meters)
    # The file must be committed before a worker looks for it.
    await session.commit()
    job_id = await job_service.queue_meter_import(jobs, import_id=import_id)
    return ImportQueued(job_id=job_id, meters=len(meters))


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
    return await registry_service.update_meter(session, meter_id=meter_id, changes=changes)


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
    replacement = MeterRegistration(
        serial=body.serial,
        kind=body.kind,
        installed_at=body.at,
        unit=body.unit,
        register_digits=body.register_digits,
        initial_index_l=body.initial_index_l,
        reporting_interval_s=body.reporting_interval_s,
    )
    return await registry_service.replace_meter(
        session, meter_id=meter_id, replacement=replacement, at=body.at
    )


@router.post(
    "/{meter_id}/credentials",
    response_model=MeterCredentials,
    responses=error_responses(404, 409, 503),
)
async def issue_credentials(
    meter_id: PathId,
    session: SessionDep,
    settings: SettingsDep,
    _: Annotated[User, require(Permission.METERS_WRITE)],
) -> MeterCredentials:
    """Issue or rotate the meter's broker login; the password is shown this once."""
    return await registry_credentials.issue_meter_credentials(
        session, meter_id=meter_id, mqtt=settings.mqtt
    )
