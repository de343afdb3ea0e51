"""Incidents as people handle them: list and read (within reach), acknowledge, assign, close,
one at a time or many at once.

A person's ``close`` is final (status ``closed``): the scan keeps attaching the same episode to
it and never reopens it. Closing an incident whose condition the scan still sees is allowed (a
known, accepted situation) but needs a note saying why. Services never commit; each action is
audited in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.incidents.exceptions import (
    AssigneeNotFound,
    IncidentAlreadyClosed,
    IncidentNotFound,
    NoteRequired,
)
from analytics.incidents.models import ACTIVE_STATUSES, IncidentStatus
from analytics.incidents.repository import IncidentFilter, IncidentRepository, LocatedIncident
from core import audit
from core.exceptions import InvalidInput

ACKNOWLEDGED = "incident.acknowledged"
ASSIGNED = "incident.assigned"
CLOSED = "incident.closed"
# Who may be given an incident: those who act on meters (accounts.models.Role values).
ASSIGNABLE_ROLES = ("admin", "technician")


class BulkAction(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    ASSIGN = "assign"
    RESOLVE = "resolve"


@dataclass(frozen=True)
class Assignee:
    id: int
    name: str
    role: str


@dataclass
class BulkOutcome:
    """What a bulk action did: the incidents it changed (or left as they were), and the ones it
    refused with the error's class name and message."""

    done: list[LocatedIncident] = field(default_factory=list)
    refused: list[tuple[int, str, str]] = field(default_factory=list)


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


async def assignees(session: AsyncSession) -> list[Assignee]:
    """The people an incident may be assigned to."""
    rows = await IncidentRepository(session).staff(ASSIGNABLE_ROLES)
    return [
        Assignee(id=i, name=f"{first} {last}".strip(), role=role) for i, first, last, role in rows
    ]


async def _check_assignee(session: AsyncSession, assignee_id: int | None) -> None:
    if assignee_id is None:
        return
    if assignee_id not in {a.id for a in await assignees(session)}:
        raise AssigneeNotFound(f"user {assignee_id} is not an active administrator or technician")


async def assign(
    session: AsyncSession,
    *,
    incident_id: int,
    reach: ColumnElement[bool] | None,
    assignee_id: int | None,
    actor_id: int,
    ip: str | None,
    now: datetime,
    checked: bool = False,
) -> LocatedIncident:
    """Give an incident to someone to handle (None: to nobody); audited when it changes.

    Raises:
        AssigneeNotFound: the assignee is not an active administrator or technician.
        IncidentNotFound: no such incident in reach.
        IncidentAlreadyClosed: a person closed it.
    """
    if not checked:
        await _check_assignee(session, assignee_id)
    found = await _locked(session, incident_id, reach)
    incident = found.incident
    if incident.assigned_to != assignee_id:
        incident.assigned_to = assignee_id
        incident.assigned_at = now
        incident.updated_at = now
        await audit.record(
            session,
            action=ASSIGNED,
            actor_id=actor_id,
            ip=ip,
            target_type="incident",
            target_id=incident.id,
            detail={"meter_id": incident.meter_id, "kind": incident.kind, "to": assignee_id},
        )
    return found


async def bulk(
    session: AsyncSession,
    *,
    incident_ids: Sequence[int],
    action: BulkAction,
    note: str,
    assignee_id: int | None,
    reach: ColumnElement[bool] | None,
    actor_id: int,
    ip: str | None,
    now: datetime,
) -> BulkOutcome:
    """One action on many incidents, each as the single action would do it; an incident the
    action refuses (closed already, gone, ongoing without a note) is reported, not fatal.

    Raises:
        AssigneeNotFound: assigning to someone who may not take incidents.
    """
    if action is BulkAction.ASSIGN:
        await _check_assignee(session, assignee_id)
    outcome = BulkOutcome()
    # Ascending ids: two bulk actions over the same incidents lock them in the same order.
    for incident_id in sorted(set(incident_ids)):
        try:
            if action is BulkAction.ACKNOWLEDGE:
                found = await acknowledge(
                    session, incident_id=incident_id, reach=reach, actor_id=actor_id, ip=ip, now=now
                )
            elif action is BulkAction.ASSIGN:
                found = await assign(
                    session,
                    incident_id=incident_id,
                    reach=reach,
                    assignee_id=assignee_id,
                    actor_id=actor_id,
                    ip=ip,
                    now=now,
                    checked=True,
                )
            else:
                found = await close(
                    session,
                    incident_id=incident_id,
                    reach=reach,
                    actor_id=actor_id,
                    ip=ip,
                    note=note,
                    now=now,
                )
        except (IncidentNotFound, IncidentAlreadyClosed, NoteRequired) as error:
            outcome.refused.append((incident_id, type(error).__name__, error.message))
        else:
            outcome.done.append(found)
    return outcome
