"""Declaring, listing and cancelling absences: the rules every entry point (portal, API, SMS)
shares, judged against the dwelling's local today."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from registry.absences.exceptions import AbsenceNotFound, InvalidAbsence
from registry.absences.models import AbsenceSource, DwellingAbsence
from registry.absences.repository import AbsenceRepository
from registry.exceptions import DwellingNotFound


def check_dates(
    *, from_date: date, to_date: date, today: date, max_days: int, max_ahead_days: int
) -> None:
    """Raise ``InvalidAbsence`` with the first rule the dates break.

    ``to_date`` is included: 20 to 20 December is one day away.
    """
    if to_date < from_date:
        raise InvalidAbsence(
            f"the return date {to_date} is before the departure {from_date}", rule="order"
        )
    if from_date < today:
        raise InvalidAbsence(
            f"the departure {from_date} is in the past (today is {today})", rule="past"
        )
    days = (to_date - from_date).days + 1
    if days > max_days:
        raise InvalidAbsence(
            f"an absence lasts at most {max_days} days, this one {days}", rule="too_long"
        )
    if from_date > today + timedelta(days=max_ahead_days):
        raise InvalidAbsence(
            f"an absence starts at most {max_ahead_days} days ahead", rule="too_far"
        )


async def local_today(
    session: AsyncSession, *, dwelling_id: int, now: datetime, default_country: str
) -> date:
    """The dwelling's calendar date at ``now``."""
    timezone = await AbsenceRepository(session).dwelling_timezone(
        dwelling_id=dwelling_id, default_country=default_country
    )
    if timezone is None:
        raise DwellingNotFound(f"dwelling {dwelling_id} not found")
    return now.astimezone(ZoneInfo(timezone)).date()


async def declare(
    session: AsyncSession,
    *,
    dwelling_id: int,
    from_date: date,
    to_date: date,
    source: AbsenceSource,
    declared_by: int,
    now: datetime,
    default_country: str,
    max_days: int,
    max_ahead_days: int,
) -> DwellingAbsence:
    """Record that the dwelling will be empty over ``[from_date, to_date]``."""
    today = await local_today(
        session, dwelling_id=dwelling_id, now=now, default_country=default_country
    )
    check_dates(
        from_date=from_date,
        to_date=to_date,
        today=today,
        max_days=max_days,
        max_ahead_days=max_ahead_days,
    )
    return await AbsenceRepository(session).add(
        dwelling_id=dwelling_id,
        from_date=from_date,
        to_date=to_date,
        source=source,
        declared_by=declared_by,
    )


async def list_current(
    session: AsyncSession, *, dwelling_id: int, now: datetime, default_country: str
) -> list[DwellingAbsence]:
    """The dwelling's absences not over yet and not cancelled."""
    today = await local_today(
        session, dwelling_id=dwelling_id, now=now, default_country=default_country
    )
    return await AbsenceRepository(session).listed(dwelling_id=dwelling_id, ending_from=today)


async def cancel(
    session: AsyncSession, *, dwelling_id: int, absence_id: int, now: datetime
) -> DwellingAbsence:
    """Cancel an absence (home earlier, trip called off); cancelling twice is harmless."""
    absence = await AbsenceRepository(session).cancel(
        dwelling_id=dwelling_id, absence_id=absence_id, now=now
    )
    if absence is None:
        raise AbsenceNotFound(f"absence {absence_id} not found on dwelling {dwelling_id}")
    return absence
