"""Anomalies (incidents) of the meters in reach: list, read with evidence, acknowledge, close;
and a meter's consumption forecast with its next invoice estimate."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy import ColumnElement

from accounts import scope
from accounts.models import User
from accounts.permissions import Permission, has_permission
from analytics.alerts import service as alerts
from analytics.incidents import service as incidents
from analytics.incidents.models import Incident, IncidentKind, IncidentStatus, Severity
from analytics.incidents.repository import IncidentFilter
from api.auth.deps import ClientIp, CurrentUser
from api.auth.guards import meter_in_reach, require
from api.deps import DbPoolDep, SessionDep, SettingsDep
from api.errors import error_responses
from api.params import Limit, Offset
from api.routers.anomaly_schemas import (
    AssigneeOut,
    AssignIn,
    BulkIn,
    BulkOut,
    BulkRefusal,
    CloseIn,
    DeliveryOut,
    ForecastOut,
    IncidentDetail,
    IncidentOut,
    IncidentPage,
)
from billing.invoices.estimate import meter_outlook
from core.orm import MAX_ID
from registry.models import Meter

router = APIRouter(tags=["anomalies"], responses=error_responses(401, 403))

IncidentId = Annotated[int, Path(ge=1, le=2**63 - 1)]
FilterId = Annotated[int | None, Query(ge=1, le=MAX_ID)]


def _reach(user: User) -> ColumnElement[bool] | None:
    """Incidents of a meter the user held while the incident went on."""
    return scope.meter_held_over(user, Incident.meter_id, Incident.started_at, Incident.ended_at)


@router.get("/anomalies", response_model=IncidentPage, responses=error_responses(422))
async def list_anomalies(
    session: SessionDep,
    user: Annotated[User, require(Permission.INCIDENTS_READ)],
    meter_id: FilterId = None,
    building_id: FilterId = None,
    zone_id: FilterId = None,
    kind: IncidentKind | None = None,
    status: IncidentStatus | None = None,
    severity: Severity | None = None,
    state: Annotated[
        str | None, Query(pattern="^(open|closed)$", description="`open` or `closed`.")
    ] = None,
    since: Annotated[
        datetime | None, Query(description="Incidents still going on at or after this instant.")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="Incidents started before this instant.")
    ] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> IncidentPage:
    """Incidents of the meters in reach, newest first."""
    total, found = await incidents.list_incidents(
        session,
        filters=IncidentFilter(
            meter_id=meter_id,
            building_id=building_id,
            zone_id=zone_id,
            kind=kind.value if kind else None,
            status=status.value if status else None,
            severity=severity.value if severity else None,
            live=None if state is None else state == "open",
            since=since,
            until=until,
        ),
        reach=_reach(user),
        limit=limit,
        offset=offset,
    )
    return IncidentPage(total=total, items=[IncidentOut.of(f) for f in found])


@router.get("/anomalies/assignees", response_model=list[AssigneeOut])
async def list_assignees(
    session: SessionDep, _: Annotated[User, require(Permission.INCIDENTS_MANAGE)]
) -> list[incidents.Assignee]:
    """Who an incident may be assigned to: active administrators and technicians."""
    return await incidents.assignees(session)


@router.post("/anomalies/bulk", response_model=BulkOut, responses=error_responses(422))
async def bulk_anomalies(
    body: BulkIn,
    session: SessionDep,
    user: Annotated[User, require(Permission.INCIDENTS_MANAGE)],
    ip: ClientIp,
) -> BulkOut:
    """Acknowledge, assign or resolve up to 200 incidents at once; each is handled as the single
    action would, and those it refuses are listed with why."""
    outcome = await incidents.bulk(
        session,
        incident_ids=body.ids,
        action=body.action,
        note=body.note,
        assignee_id=body.user_id,
        reach=_reach(user),
        actor_id=user.id,
        ip=ip,
        now=datetime.now(UTC),
    )
    return BulkOut(
        done=[IncidentOut.of(found) for found in outcome.done],
        refused=[BulkRefusal(id=i, error=e, detail=d) for i, e, d in outcome.refused],
    )


@router.get(
    "/anomalies/{incident_id}", response_model=IncidentDetail, responses=error_responses(404)
)
async def get_anomaly(
    incident_id: IncidentId,
    session: SessionDep,
    user: Annotated[User, require(Permission.INCIDENTS_READ)],
) -> IncidentDetail:
    """One incident with its evidence (and its SMS deliveries, for those who manage it)."""
    found = await incidents.get_incident(session, incident_id=incident_id, reach=_reach(user))
    deliveries = None
    if has_permission(user, Permission.INCIDENTS_MANAGE):
        sent = await alerts.deliveries(session, incident_id=incident_id)
        deliveries = [DeliveryOut.model_validate(d) for d in sent]
    return IncidentDetail.of(found, evidence=found.incident.evidence, deliveries=deliveries)


@router.post(
    "/anomalies/{incident_id}/acknowledge",
    response_model=IncidentOut,
    responses=error_responses(404, 409),
)
async def acknowledge_anomaly(
    incident_id: IncidentId,
    session: SessionDep,
    user: Annotated[User, require(Permission.INCIDENTS_MANAGE)],
    ip: ClientIp,
) -> IncidentOut:
    """Someone is on it (audited); acknowledging twice changes nothing."""
    found = await incidents.acknowledge(
        session,
        incident_id=incident_id,
        reach=_reach(user),
        actor_id=user.id,
        ip=ip,
        now=datetime.now(UTC),
    )
    return IncidentOut.of(found)


@router.post(
    "/anomalies/{incident_id}/assign",
    response_model=IncidentOut,
    responses=error_responses(404, 409, 422),
)
async def assign_anomaly(
    incident_id: IncidentId,
    body: AssignIn,
    session: SessionDep,
    user: Annotated[User, require(Permission.INCIDENTS_MANAGE)],
    ip: ClientIp,
) -> IncidentOut:
    """Give an incident to an administrator or technician to handle (audited)."""
    found = await incidents.assign(
        session,
        incident_id=incident_id,
        reach=_reach(user),
        assignee_id=body.user_id,
        actor_id=user.id,
        ip=ip,
        now=datetime.now(UTC),
    )
    return IncidentOut.of(found)


@router.post(
    "/anomalies/{incident_id}/resolve",
    response_model=IncidentOut,
    responses=error_responses(404, 409, 422),
)
async def resolve_anomaly(
    incident_id: IncidentId,
    session: SessionDep,
    user: Annotated[User, require(Permission.INCIDENTS_MANAGE)],
    ip: ClientIp,
    body: CloseIn | None = None,
) -> IncidentOut:
    """Close an incident for good (audited); a note is required while it is still ongoing."""
    found = await incidents.close(
        session,
        incident_id=incident_id,
        reach=_reach(user),
        actor_id=user.id,
        ip=ip,
        note=body.note if body else "",
        now=datetime.now(UTC),
    )
    return IncidentOut.of(found)


@router.get(
    "/meters/{meter_id}/forecast",
    response_model=ForecastOut,
    responses=error_responses(404, 422),
)
async def meter_forecast(
    meter: Annotated[Meter, meter_in_reach(Permission.CONSUMPTION_READ, Permission.INVOICES_READ)],
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    pool: DbPoolDep,
) -> ForecastOut:
    """Expected litres a day for 30 days with an 80 % interval, and the next invoice's estimate
    (for whoever holds the meter now)."""
    now = datetime.now(UTC)
    await scope.ensure_meter_held_at(session, user=user, meter_id=meter.id, at=now)
    outlook = await meter_outlook(
        session,
        meter=meter,
        pool=pool,
        default_country=settings.default_country,
        now=now,
    )
    return ForecastOut.of(outlook)
