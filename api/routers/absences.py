"""Declared absences ("holiday mode") of a dwelling: customers for the dwellings they occupy
now, managers for their buildings' dwellings, admins for any. While an absence runs, the
anomaly scan leaves its days out of baselines and zero use there is nobody's concern."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, status
from sqlalchemy import literal, select

from accounts import scope
from accounts.models import Role, User
from accounts.permissions import Permission
from api.auth.guards import require
from api.deps import SessionDep, SettingsDep
from api.errors import error_responses
from api.params import PathId
from registry.absences import service as absences
from registry.absences.models import AbsenceSource, DwellingAbsence
from registry.absences.schemas import AbsenceIn, AbsenceOut
from registry.exceptions import DwellingNotFound

router = APIRouter(prefix="/dwellings", tags=["absences"], responses=error_responses(401, 403))
AbsenceUser = Annotated[User, require(Permission.ABSENCES_WRITE)]


async def _ensure_current(session: SessionDep, user: User, dwelling_id: int) -> None:
    """404 unless the user may act for the dwelling now (a former tenant may not)."""
    await scope.ensure_dwelling(session, user=user, dwelling_id=dwelling_id)
    held = scope.dwelling_held_at(user, literal(dwelling_id), literal(datetime.now(UTC)))
    if held is not None and not await session.scalar(select(held)):
        raise DwellingNotFound(f"dwelling {dwelling_id} does not exist")


@router.get(
    "/{dwelling_id}/absences", response_model=list[AbsenceOut], responses=error_responses(404)
)
async def list_absences(
    dwelling_id: PathId, session: SessionDep, settings: SettingsDep, user: AbsenceUser
) -> list[DwellingAbsence]:
    """The dwelling's declared absences that are not over, soonest first."""
    await _ensure_current(session, user, dwelling_id)
    return await absences.list_current(
        session,
        dwelling_id=dwelling_id,
        now=datetime.now(UTC),
        default_country=settings.default_country,
    )


@router.post(
    "/{dwelling_id}/absences",
    response_model=AbsenceOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(404, 422),
)
async def declare_absence(
    dwelling_id: PathId,
    body: AbsenceIn,
    session: SessionDep,
    settings: SettingsDep,
    user: AbsenceUser,
) -> DwellingAbsence:
    """Declare that nobody will be home from ``from_date`` to ``to_date`` (both included)."""
    await _ensure_current(session, user, dwelling_id)
    return await absences.declare(
        session,
        dwelling_id=dwelling_id,
        from_date=body.from_date,
        to_date=body.to_date,
        source=AbsenceSource.PORTAL if user.role is Role.CUSTOMER else AbsenceSource.OPERATOR,
        declared_by=user.id,
        now=datetime.now(UTC),
        default_country=settings.default_country,
        max_days=settings.occupancy.max_absence_days,
        max_ahead_days=settings.occupancy.max_ahead_days,
    )


@router.delete(
    "/{dwelling_id}/absences/{absence_id}",
    response_model=AbsenceOut,
    responses=error_responses(404),
)
async def cancel_absence(
    dwelling_id: PathId, absence_id: PathId, session: SessionDep, user: AbsenceUser
) -> DwellingAbsence:
    """Cancel an absence (back early, trip called off); answers the cancelled absence."""
    await _ensure_current(session, user, dwelling_id)
    return await absences.cancel(
        session, dwelling_id=dwelling_id, absence_id=absence_id, now=datetime.now(UTC)
    )
