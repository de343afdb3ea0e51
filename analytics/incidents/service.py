"""Incidents as people handle them: list and read (within reach), acknowledge, close.

A person's ``close`` is final (status ``closed``): the scan keeps attaching the same episode to
it and never reopens it. Closing an incident whose condition the scan still sees is allowed (a
known, accepted situation) but needs a note saying why. Services never commit; each action is
audited in the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.incidents.exceptions import IncidentAlreadyClosed, IncidentNotFound, NoteRequired
from analytics.incidents.models import ACTIVE_STATUSES, IncidentStatus
from analytics.incidents.repository import IncidentFilter, IncidentRepository, LocatedIncident
from core import audit
from core.exceptions import InvalidInput

ACKNOWLEDGED = "incident.acknowledged"
CLOSED = "incident.closed"


async def list_incidents(
    session: AsyncSession,
    *,
    filters: IncidentFilter,
    reach: ColumnElement[bool] | None,
    limit: int,
    offset: int,
) -> tuple[int, list[LocatedIncident]]:
    """The incidents matching ``filters`` within ``reach``, a condition on them (None: all)."""
    if filters.since and filters.until and filters.since >= filters.until:
        raise InvalidInput("since must be before until")
    return await IncidentRepository(session).page(filters, reach=reach, limit=limit, offset=offset)


async def get_incident(
    session: AsyncSession, *, incident_id: int, reach: ColumnElement[bool] | None
) -> LocatedIncident:
    found = await IncidentRepository(session).get(incident_id, reach=reach)
    if found is None:
        raise IncidentNotFound(f"incident {incident_id} does not exist")
    return found


async def _locked(
    session: AsyncSession, incident_id: int, reach: ColumnElement[bool] | None
) -> LocatedIncident:
    found = await IncidentRepository(session).get(incident_id, reach=reach, for_update=True)
    if found is None:
        raise IncidentNotFound(f"incident {incident_id} does not exist")
    if found.incident.status is IncidentStatus.CLOSED:
        raise IncidentAlreadyClosed(f"incident {incident_id} was closed already")
    return found


async def acknowledge(
    session: AsyncSession,
    *,
    incident_id: int,
    reach: ColumnElement[bool] | None,
    actor_id: int,
    ip: str | None,
    now: datetime,
) -> LocatedIncident:
    """Someone is on it: a live incident becomes ``acknowledged`` (again: no change).

    Raises:
        IncidentNotFound: no such incident in reach.
        IncidentAlreadyClosed: a person closed it.
    """
    found = await _locked(session, incident_id, reach)
    incident = found.incident
    if incident.status is IncidentStatus.OPEN:
        incident.status = IncidentStatus.ACKNOWLEDGED
        incident.acknowledged_by = actor_id
        incident.acknowledged_at = now
        incident.updated_at = now
        await audit.record(
            session,
            action=ACKNOWLEDGED,
            actor_id=actor_id,
            ip=ip,
            target_type="incident",
            target_id=incident.id,
            detail={"meter_id": incident.meter_id, "kind": incident.kind},
        )
    return found


async def close(
    session: AsyncSession,
    *,
    incident_id: int,
    reach: ColumnElement[bool] | None,
    actor_id: int,
    ip: str | None,
    note: str,
    now: datetime,
) -> LocatedIncident:
    """The final word on an incident: ``closed``, with who, when and why.

    Raises:
        IncidentNotFound: no such incident in reach.
        IncidentAlreadyClosed: a person closed it already.
        NoteRequired: the condition is still ongoing and no note says why it is closed anyway.
    """
    found = await _locked(session, incident_id, reach)
    incident = found.incident
    ongoing = incident.status in ACTIVE_STATUSES
    note = note.strip()
    if ongoing and not note:
        raise NoteRequired(
            f"incident {incident_id} is still ongoing: say in a note why it is closed"
        )
    incident.status = IncidentStatus.CLOSED
    incident.closed_by = actor_id
    incident.closed_at = now
    incident.note = note
    if incident.ended_at is None:
        incident.ended_at = now
    incident.updated_at = now
    await audit.record(
        session,
        action=CLOSED,
        actor_id=actor_id,
        ip=ip,
        target_type="incident",
        target_id=incident.id,
        detail={
            "meter_id": incident.meter_id,
            "kind": incident.kind,
            "ongoing": ongoing,
            "note": note,
        },
    )
    return found
