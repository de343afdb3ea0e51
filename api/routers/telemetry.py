"""Telemetry reads: a meter's readings and volumes, and the fleet's ingest status."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from accounts import scope
from accounts.models import User
from accounts.permissions import Permission
from analytics.history import service as history_service
from analytics.history.schemas import History, Window
from analytics.telemetry import service as telemetry
from analytics.telemetry.schemas import (
    Granularity,
    IngestStatus,
    MeterIngestPage,
    MeterReadings,
    MeterVolumes,
)
from api.auth.guards import require
from api.deps import SessionDep, SettingsDep
from api.errors import error_responses
from api.params import FilterId, Limit, Offset, PathId
from core.orm import InYears
from core.telemetry import ReadingSource

router = APIRouter(tags=["telemetry"], responses=error_responses(401, 403))

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "MeterNotFound: no meter with this id."},
    422: {"description": "InvalidTimeRange: a reversed or too long time range."},
}

Start = Annotated[
    datetime | None, InYears, Query(description="Inclusive start, RFC 3339 with an offset.")
]
End = Annotated[
    datetime | None, InYears, Query(description="Exclusive end, RFC 3339 with an offset.")
]


@router.get(
    "/meters/{meter_id}/readings",
    response_model=MeterReadings,
    responses=_ERRORS,
)
async def meter_readings(
    meter_id: PathId,
    session: SessionDep,
    settings: SettingsDep,
    user: Annotated[User, require(Permission.READINGS_READ)],
    start: Start = None,
    end: End = None,
    source: Annotated[ReadingSource | None, Query(description="Only this source.")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1_000,
) -> MeterReadings:
    """A meter's raw readings in a time range, newest first (staff; customers see volumes)."""
    await scope.ensure_meter(session, user=user, meter_id=meter_id)
    windows = await scope.meter_windows(session, user=user, meter_id=meter_id)
    return await telemetry.meter_readings(
        session,
        meter_id=meter_id,
        start=start,
        end=end,
        source=source.value if source else None,
        limit=limit,
        default_country=settings.default_country,
        windows=windows,
    )


@router.get("/meters/{meter_id}/volumes", response_model=MeterVolumes, responses=_ERRORS)
async def meter_volumes(
    meter_id: PathId,
    session: SessionDep,
    settings: SettingsDep,
    user: Annotated[User, require(Permission.CONSUMPTION_READ)],
    granularity: Granularity = Granularity.HOUR,
    start: Start = None,
    end: End = None,
) -> MeterVolumes:
    """A meter's hourly or daily volumes, with local labels and its time zone (of the time the
    caller held it)."""
    await scope.ensure_meter(session, user=user, meter_id=meter_id)
    windows = await scope.meter_windows(session, user=user, meter_id=meter_id)
    limits = settings.telemetry
    max_days = (
        limits.max_hourly_range_days
        if granularity is Granularity.HOUR
        else limits.max_daily_range_days
    )
    return await telemetry.meter_volumes(
        session,
        meter_id=meter_id,
        granularity=granularity,
        start=start,
        end=end,
        max_days=max_days,
        default_country=settings.default_country,
        now=datetime.now(UTC),
        windows=windows,
    )


@router.get(
    "/ingest/status",
    response_model=IngestStatus,
    dependencies=[require(Permission.INGEST_STATUS)],
)
async def ingest_status(session: SessionDep) -> IngestStatus:
    """Fleet ingest: rate, lag, rollup queue, reporting and silent meters, quarantine counts."""
    return await telemetry.ingest_status(session, now=datetime.now(UTC))


@router.get(
    "/ingest/status/meters",
    response_model=MeterIngestPage,
    dependencies=[require(Permission.INGEST_STATUS)],
)
async def ingest_status_meters(
    session: SessionDep,
    limit: Limit = 100,
    offset: Offset = 0,
) -> MeterIngestPage:
    """Last seen per active meter, silent meters first."""
    return await telemetry.meter_ingest_statuses(
        session, now=datetime.now(UTC), limit=limit, offset=offset
    )


@router.get(
    "/telemetry/history",
    response_model=History,
    dependencies=[require(Permission.INGEST_STATUS)],
    responses={
        404: {"description": "ScopeNotFound: no zone, building or meter with this id."},
        422: {"description": "InvalidWindow: custom dates missing, reversed or too far apart."},
    },
)
async def telemetry_history(
    session: SessionDep,
    settings: SettingsDep,
    window: Window = Window.DAY,
    start: Annotated[
        date | None, InYears, Query(description="window=custom: first local day.")
    ] = None,
    end: Annotated[
        date | None, InYears, Query(description="window=custom: last local day (included).")
    ] = None,
    zone_id: FilterId = None,
    building_id: FilterId = None,
    meter_id: FilterId = None,
) -> History:
    """Readings and volumes of the fleet, a zone, a building or a meter per minute, hour or day
    over the last hour, day, 30 days or a custom range of local days (from the rollups)."""
    kind, scope_id = history_service.scope_of(
        zone_id=zone_id, building_id=building_id, meter_id=meter_id
    )
    return await history_service.history(
        session,
        kind=kind,
        scope_id=scope_id,
        window=window,
        first=start,
        last=end,
        default_country=settings.default_country,
        now=datetime.now(UTC),
    )
