"""Field work: today's round, manual readings and meter faults (technicians; admins see all).

Uploads are multipart forms (a photo from the phone's camera rides along) carrying an
``Idempotency-Key`` header chosen by the client, so an offline queue can replay them safely:
a replay answers what the first request answered (with ``Idempotent-Replayed: true``), the same
key with another body is a 409 ``IdempotencyKeyReused``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Header, Query, UploadFile
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import select, update

from accounts import scope
from accounts.models import User
from accounts.permissions import Permission
from api.auth.guards import meter_in_reach, require
from api.deps import SessionDep, SettingsDep
from api.errors import error_responses
from api.params import Limit, Offset
from core.config import Settings
from core.exceptions import InvalidInput
from core.orm import InYears
from ingest.field import photos, service
from ingest.field.decisions import Limits
from ingest.field.models import FaultKind, FaultStatus, MeterFault
from registry.models import Meter
from registry.schemas import Id

router = APIRouter(tags=["field"], responses=error_responses(401, 403))

IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=8,
        max_length=128,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="Chosen by the client per upload (a UUID); replays answer the same.",
    ),
]
Note = Annotated[str, Form(max_length=2000)]
MAX_FAULT_IDS = 1000


class ReadingWarning(BaseModel):
    code: str
    message: str


class ManualReadingOut(BaseModel):
    status: str = Field(description="accepted, accepted_with_warning, duplicate or rejected.")
    reason: str | None = Field(description="Why it was rejected or warned about (a code).")
    message: str = Field(description="The server's decision in words, for the technician.")
    warnings: list[ReadingWarning]
    meter_id: int
    time: datetime
    index_l: int
    photo_id: int | None


class FaultOut(BaseModel):
    id: int
    meter_id: int
    kind: FaultKind
    note: str
    photo_id: int | None
    status: FaultStatus
    reported_by: int
    observed_at: datetime
    reported_at: datetime
    resolved_at: datetime | None


class RoundFault(BaseModel):
    id: int
    kind: FaultKind
    note: str
    reported_at: datetime


class RoundMeter(BaseModel):
    meter_id: int
    serial: str
    kind: str
    unit: str
    register_digits: int
    dwelling_id: int | None
    dwelling_reference: str | None
    building_id: int | None
    building_name: str | None
    building_address: str | None
    reasons: list[str] = Field(
        description="fault, device_alarm, check_register (zero use, no absence declared),"
        " silent, due (may be empty once the meter was read today)."
    )
    incidents: list[str]
    faults: list[RoundFault]
    last_reading_at: datetime | None
    last_index_l: int | None
    last_source: str | None
    read_today: bool
    fault_reported_today: bool


class RoundOut(BaseModel):
    generated_at: datetime
    silent_hours: int
    due_days: int
    meters: list[RoundMeter]


class FaultIds(BaseModel):
    ids: Annotated[list[Id], Field(min_length=1, max_length=MAX_FAULT_IDS)]


def _json(answer: service.Answer) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return JSONResponse(answer.body, status_code=answer.status_code, headers=headers)


async def _photo(upload: UploadFile | None, settings: Settings) -> photos.PhotoBytes | None:
    # Browsers send an empty part when the file input was left empty.
    if upload is None or not upload.filename:
        return None
    limit = settings.field.photo_max_bytes
    return photos.inspect_photo(await upload.read(limit + 1), max_bytes=limit)


def _not_in_future(value: datetime, settings: Settings, what: str) -> datetime:
    if value > datetime.now(UTC) + timedelta(seconds=settings.ingest.max_future_s):
        raise InvalidInput(f"{what} {value.isoformat()} is in the future")
    return value.astimezone(UTC)


@router.get("/rounds/today", response_model=RoundOut)
async def todays_round(
    session: SessionDep,
    settings: SettingsDep,
    user: Annotated[User, require(Permission.ROUNDS_READ)],
) -> RoundOut:
    """Meters to visit today in the technician's round: open faults and device alarms, silent
    connected meters, hand-read meters due; plus those already visited today."""
    reach = scope.meter_ids(user)
    meter_ids = None if reach is None else list(await session.scalars(reach))
    field = settings.field
    items = await service.todays_round(
        session,
        meter_ids=meter_ids,
        default_country=settings.default_country,
        silent_hours=field.silent_hours,
        due_days=field.reading_due_days,
        limit=field.round_limit,
    )
    meters = [
        RoundMeter(
            meter_id=item.row.id,
            reasons=item.reasons,
            faults=[
                RoundFault(id=f.id, kind=f.kind, note=f.note, reported_at=f.reported_at)
                for f in item.faults
            ],
            **{
                name: getattr(item.row, name)
                for name in RoundMeter.model_fields
                if name not in ("meter_id", "reasons", "faults")
            },
        )
        for item in items
    ]
    return RoundOut(
        generated_at=datetime.now(UTC),
        silent_hours=field.silent_hours,
        due_days=field.reading_due_days,
        meters=meters,
    )


@router.post(
    "/readings/manual",
    status_code=201,
    response_model=ManualReadingOut,
    responses={
        200: {"model": ManualReadingOut, "description": "Already stored (same time and index)."},
        **error_responses(404, 409, 422),
    },
)
async def manual_reading(
    session: SessionDep,
    settings: SettingsDep,
    user: Annotated[User, require(Permission.READINGS_WRITE)],
    key: IdempotencyKey,
    meter_id: Annotated[Id, Form()],
    time: Annotated[
        AwareDatetime, InYears, Form(description="When the register was read, with offset.")
    ],
    index_l: Annotated[int, Form(ge=0, lt=10**12, description="Register index in litres.")],
    note: Note = "",
    photo: UploadFile | None = None,
) -> Any:
    """Store a technician's reading (source ``manual``); the server judges it against the
    meter's other readings and says so: accepted, accepted with a warning, or rejected (409)."""
    meter = await scope.ensure_meter(session, user=user, meter_id=meter_id)
    answer = await service.record_manual_reading(
        session,
        key=key,
        user_id=user.id,
        meter=meter,
        time=_not_in_future(time, settings, "time"),
        index_l=index_l,
        note=note,
        photo=await _photo(photo, settings),
        photo_root=Path(settings.field.photo_dir),
        limits=Limits(
            max_flow_lph=settings.ingest.max_flow_lph, tolerance_l=settings.field.iot_tolerance_l
        ),
        match_window_s=settings.field.iot_match_window_s,
    )
    return _json(answer)


@router.post(
    "/meters/{meter_id}/faults",
    status_code=201,
    response_model=FaultOut,
    responses=error_responses(404, 409, 422),
)
async def report_fault(
    meter: Annotated[Meter, meter_in_reach(Permission.FAULTS_REPORT)],
    session: SessionDep,
    settings: SettingsDep,
    user: Annotated[User, require(Permission.FAULTS_REPORT)],
    kind: Annotated[FaultKind, Form()],
    note: Note = "",
    observed_at: Annotated[AwareDatetime | None, InYears, Form(description="Default: now.")] = None,
    photo: UploadFile | None = None,
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key", min_length=8, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$"
        ),
    ] = None,
) -> Any:
    """Report a fault seen on a meter (optionally with a photo); it stays open for operators."""
    answer = await service.report_fault(
        session,
        key=key,
        user_id=user.id,
        meter=meter,
        kind=kind,
        note=note,
        observed_at=_not_in_future(observed_at or datetime.now(UTC), settings, "observed_at"),
        photo=await _photo(photo, settings),
        photo_root=Path(settings.field.photo_dir),
    )
    return _json(answer)


@router.get("/faults", response_model=list[FaultOut])
async def list_faults(
    session: SessionDep,
    _: Annotated[User, require(Permission.FAULTS_MANAGE)],
    status: FaultStatus | None = FaultStatus.OPEN,
    meter_id: Annotated[Id | None, Query()] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[MeterFault]:
    """Reported faults, newest first (open ones by default)."""
    statement = select(MeterFault)
    if status is not None:
        statement = statement.where(MeterFault.status == status)
    if meter_id is not None:
        statement = statement.where(MeterFault.meter_id == meter_id)
    ordered = statement.order_by(MeterFault.reported_at.desc(), MeterFault.id.desc())
    return list(await session.scalars(ordered.limit(limit).offset(offset)))


@router.post("/faults/resolve", response_model=list[FaultOut])
async def resolve_faults(
    body: FaultIds,
    session: SessionDep,
    _: Annotated[User, require(Permission.FAULTS_MANAGE)],
) -> list[MeterFault]:
    """Close open faults once the meter is repaired or replaced; the ones that were open."""
    resolved = await session.scalars(
        update(MeterFault)
        .where(MeterFault.id.in_(body.ids), MeterFault.status == FaultStatus.OPEN)
        .values(status=FaultStatus.RESOLVED, resolved_at=datetime.now(UTC))
        .returning(MeterFault)
    )
    return list(resolved)
