"""Object-level access: which buildings, dwellings, meters and users a signed-in user may reach.

Each ``*_ids`` function returns a subquery of the ids in reach, or ``None`` for "all" (admins).
The ``ensure_*`` helpers load one object and answer 404 when it is out of reach, exactly as when it
does not exist, so ids of other people's objects cannot be probed. Typical use in a route::

    meter = await scope.ensure_meter(session, user=user, meter_id=meter_id)
    statement = scope.restrict(select(Meter), Meter.id, scope.meter_ids(user))

Reach by role: admin everything; manager the buildings they manage and all below them, and the
customers occupying those dwellings; technician the buildings and meters of their rounds; customer
the dwellings they occupy, occupied or will occupy (tenant or owner) and their meters. Who may link
whom to a dwelling is ``linkable_user_ids`` (the table is in docs/security.md).

Reach is time-scoped: the *data* of a dwelling (invoices, payments, readings, consumption,
anomalies) is the user's only for the time they held it. ``dwelling_periods`` is that one
definition (a customer's occupancies; a manager's or technician's hold has no dates, since
buildings and dwellings never change hands in the model); ``meter_periods`` turns it into
instants in the dwelling's time zone, and the ``*_held_*`` conditions apply it to a row's time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Date,
    DateTime,
    Select,
    and_,
    cast,
    false,
    func,
    literal,
    null,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Role, User
from core.countries import Country
from core.exceptions import NotFound
from core.orm import Base
from registry.exceptions import MeterNotFound
from registry.models import (
    Building,
    BuildingManager,
    Dwelling,
    DwellingOccupant,
    Meter,
    TechnicianAssignment,
    Zone,
)

S = TypeVar("S", bound=Select[Any])
# A one-column SELECT of ids in reach.
Ids = Select[Any]
M = TypeVar("M", bound=Base)
# Rows of (object id, start, end) in ``dwelling_periods`` and ``meter_periods``.
Periods = Select[Any, Any, Any]


def _current_occupancy() -> ColumnElement[bool]:
    today = func.current_date()
    return (DwellingOccupant.start_date <= today) & (
        DwellingOccupant.end_date.is_(None) | (DwellingOccupant.end_date >= today)
    )


def building_ids(user: User) -> Ids | None:
    if user.role is Role.ADMIN:
        return None
    if user.role is Role.MANAGER:
        return select(BuildingManager.building_id).where(BuildingManager.user_id == user.id)
    if user.role is Role.TECHNICIAN:
        return select(TechnicianAssignment.building_id).where(
            TechnicianAssignment.technician_id == user.id,
            TechnicianAssignment.building_id.is_not(None),
        )
    return (
        select(Dwelling.building_id)
        .join(DwellingOccupant, DwellingOccupant.dwelling_id == Dwelling.id)
        .where(DwellingOccupant.user_id == user.id, _current_occupancy())
    )


def occupancy_periods(user_id: int) -> Periods:
    """``(dwelling_id, from_date, until_date)`` of each occupancy of the person (as a customer
    holds dwellings; also what their data export covers)."""
    return select(
        DwellingOccupant.dwelling_id.label("dwelling_id"),
        DwellingOccupant.start_date.label("from_date"),
        (DwellingOccupant.end_date + 1).label("until_date"),
    ).where(DwellingOccupant.user_id == user_id)


def dwelling_periods(user: User) -> Periods | None:
    """``(dwelling_id, from_date, until_date)``: the local dates during which ``user`` holds each
    dwelling in reach, ``until_date`` exclusive, NULL for no bound; None for admins (everything).

    A customer holds a dwelling for each of their occupancies; a manager the dwellings of their
    buildings and a technician those of their rounds' buildings, without dates.
    """
    if user.role is Role.ADMIN:
        return None
    if user.role is Role.CUSTOMER:
        return occupancy_periods(user.id)
    buildings = building_ids(user)
    assert buildings is not None
    return select(
        Dwelling.id.label("dwelling_id"),
        cast(null(), Date).label("from_date"),
        cast(null(), Date).label("until_date"),
    ).where(Dwelling.building_id.in_(buildings))


def _instant(day: Any, timezone: Any) -> ColumnElement[datetime]:
    """Local midnight starting ``day`` in ``timezone`` (NULL stays NULL, an open bound)."""
    return func.timezone(timezone, cast(day, DateTime))


def as_instants(periods: Periods) -> Periods:
    """Dwelling periods in dates as instants: ``(dwelling_id, from_at, until_at)``. A day is cut
    in the dwelling's local time zone (its zone's, else its country's), as billing cuts periods."""
    held = periods.subquery("held")
    timezone = func.coalesce(Zone.timezone, Country.timezone, literal("UTC"))
    return (
        select(
            held.c.dwelling_id,
            _instant(held.c.from_date, timezone).label("from_at"),
            _instant(held.c.until_date, timezone).label("until_at"),
        )
        .join(Dwelling, Dwelling.id == held.c.dwelling_id)
        .join(Building, Building.id == Dwelling.building_id)
        .join(Zone, Zone.id == Building.zone_id)
        .join(Country, Country.code == Zone.country_code)
    )


def meter_periods(user: User) -> Periods | None:
    """``(meter_id, from_at, until_at)``: the instants during which ``user`` holds each meter's
    data (its dwelling's periods; a technician's round meters without dates), ``until_at``
    exclusive, NULL for no bound; None for admins."""
    if user.role is Role.ADMIN:
        return None
    periods = dwelling_periods(user)
    assert periods is not None
    if user.role is Role.CUSTOMER:
        held = as_instants(periods).subquery("held_at")
        return select(Meter.id.label("meter_id"), held.c.from_at, held.c.until_at).join(
            held, held.c.dwelling_id == Meter.dwelling_id
        )
    # Staff hold without dates: no time zones to join, the plan stays a plain id lookup.
    undated = cast(null(), DateTime(timezone=True))
    on_dwellings = select(
        Meter.id.label("meter_id"), undated.label("from_at"), undated.label("until_at")
    ).where(Meter.dwelling_id.in_(select(periods.subquery().c.dwelling_id)))
    if user.role is not Role.TECHNICIAN:
        return on_dwellings
    on_round = select(
        TechnicianAssignment.meter_id.label("meter_id"),
        undated.label("from_at"),
        undated.label("until_at"),
    ).where(
        TechnicianAssignment.technician_id == user.id,
        TechnicianAssignment.meter_id.is_not(None),
    )
    return select(on_dwellings.union_all(on_round).subquery("periods"))


def dwelling_ids(user: User) -> Ids | None:
    """Dwellings the user holds or held at some time (what they may see of each: the periods)."""
    periods = dwelling_periods(user)
    return None if periods is None else select(periods.subquery().c.dwelling_id)


def meter_ids(user: User) -> Ids | None:
    periods = meter_periods(user)
    return None if periods is None else select(periods.subquery().c.meter_id)


def dwelling_held_on(user: User, dwelling_id: Any, day: Any) -> ColumnElement[bool] | None:
    """``user`` held dwelling ``dwelling_id`` on local date ``day`` (None: no restriction)."""
    periods = dwelling_periods(user)
    if periods is None:
        return None
    held = periods.subquery("held")
    return (
        select(held.c.dwelling_id)
        .where(
            held.c.dwelling_id == dwelling_id,
            or_(held.c.from_date.is_(None), held.c.from_date <= day),
            or_(held.c.until_date.is_(None), day < held.c.until_date),
        )
        .exists()
    )


def _overlaps(held: Any, start: Any, end: Any | None) -> ColumnElement[bool]:
    if end is None:
        return and_(
            or_(held.c.from_at.is_(None), held.c.from_at <= start),
            or_(held.c.until_at.is_(None), start < held.c.until_at),
        )
    return and_(
        or_(held.c.until_at.is_(None), start < held.c.until_at),
        or_(held.c.from_at.is_(None), end.is_(None), end > held.c.from_at),
    )


def meter_held_over(
    user: User, meter_id: Any, start: Any, end: Any | None = None
) -> ColumnElement[bool] | None:
    """``user`` held meter ``meter_id`` at some instant of [start, end) (``end`` a column whose
    NULL means still going; omitted: the single instant ``start``). None: no restriction."""
    periods = meter_periods(user)
    if periods is None:
        return None
    held = periods.subquery("held")
    return (
        select(held.c.meter_id)
        .where(held.c.meter_id == meter_id, _overlaps(held, start, end))
        .exists()
    )


def _instant_held(periods: Periods, dwelling_id: Any, at: Any) -> ColumnElement[bool]:
    held = as_instants(periods).subquery("held")
    return (
        select(held.c.dwelling_id)
        .where(held.c.dwelling_id == dwelling_id, _overlaps(held, at, None))
        .exists()
    )


def dwelling_held_at(user: User, dwelling_id: Any, at: Any) -> ColumnElement[bool] | None:
    """``user`` held dwelling ``dwelling_id`` at instant ``at`` (None: no restriction)."""
    periods = dwelling_periods(user)
    return None if periods is None else _instant_held(periods, dwelling_id, at)


def occupied_at(user_id: int, dwelling_id: Any, at: Any) -> ColumnElement[bool]:
    """The person occupied dwelling ``dwelling_id`` at instant ``at``, whatever their role."""
    return _instant_held(occupancy_periods(user_id), dwelling_id, at)


async def meter_windows(
    session: AsyncSession, *, user: User, meter_id: int
) -> list[tuple[datetime | None, datetime | None]] | None:
    """The ``[from, until)`` instants during which ``user`` holds the meter's data (None bounds
    open), for raw-SQL reads that filter by them; None for no restriction."""
    periods = meter_periods(user)
    if periods is None:
        return None
    held = periods.subquery("held")
    rows = await session.execute(
        select(held.c.from_at, held.c.until_at).where(held.c.meter_id == meter_id)
    )
    return [(row.from_at, row.until_at) for row in rows]


def user_ids(user: User) -> Ids | None:
    """Managers reach the customers occupying (in the past or now) their buildings' dwellings:
    never staff, even one linked to a dwelling, whose profile is the admins' to edit."""
    if user.role is Role.ADMIN:
        return None
    if user.role is Role.MANAGER:
        dwellings = dwelling_ids(user)
        assert dwellings is not None
        return (
            select(DwellingOccupant.user_id)
            .join(User, User.id == DwellingOccupant.user_id)
            .where(DwellingOccupant.dwelling_id.in_(dwellings), User.role == Role.CUSTOMER)
        )
    return select(User.id).where(User.id == user.id)


def linkable_user_ids(user: User) -> Ids | None:
    """Whom ``user`` may link to a dwelling in reach. A manager links customers only, and only
    those not occupying, now or later, a dwelling outside their buildings: linking must not bring
    another building's customer (their phone, their history) into the manager's reach."""
    if user.role is Role.ADMIN:
        return None
    if user.role is not Role.MANAGER:
        return select(User.id).where(false())
    dwellings = dwelling_ids(user)
    assert dwellings is not None
    elsewhere = select(DwellingOccupant.user_id).where(
        DwellingOccupant.dwelling_id.not_in(dwellings),
        DwellingOccupant.end_date.is_(None) | (DwellingOccupant.end_date >= func.current_date()),
    )
    return select(User.id).where(
        User.role == Role.CUSTOMER, User.erased_at.is_(None), User.id.not_in(elsewhere)
    )


def restrict(statement: S, column: Any, ids: Ids | None) -> S:
    """``statement`` limited to rows whose ``column`` is in reach."""
    return statement if ids is None else statement.where(column.in_(ids))


async def _ensure(
    session: AsyncSession,
    model: type[M],
    object_id: int,
    ids: Ids | None,
    what: str,
    error: type[NotFound] = NotFound,
) -> M:
    found = await session.get(model, object_id)
    if found is not None and ids is not None:
        in_reach = await session.scalar(
            select(ids.where(ids.selected_columns[0] == object_id).exists())
        )
        found = found if in_reach else None
    if found is None:
        raise error(f"{what} {object_id} does not exist")
    return found


async def ensure_building(session: AsyncSession, *, user: User, building_id: int) -> Building:
    return await _ensure(session, Building, building_id, building_ids(user), "building")


async def ensure_dwelling(session: AsyncSession, *, user: User, dwelling_id: int) -> Dwelling:
    return await _ensure(session, Dwelling, dwelling_id, dwelling_ids(user), "dwelling")


async def ensure_meter(session: AsyncSession, *, user: User, meter_id: int) -> Meter:
    return await _ensure(session, Meter, meter_id, meter_ids(user), "meter", MeterNotFound)


async def ensure_meter_held_at(
    session: AsyncSession, *, user: User, meter_id: int, at: datetime
) -> None:
    """404 unless ``user`` holds the meter's data at ``at``: a former tenant keeps their past
    readings, but the meter's outlook (forecast, next invoice) is the current occupant's."""
    held = meter_held_over(user, literal(meter_id), literal(at, DateTime(timezone=True)))
    if held is not None and not await session.scalar(select(held)):
        raise MeterNotFound(f"meter {meter_id} does not exist")


async def ensure_user(session: AsyncSession, *, user: User, user_id: int) -> User:
    return await _ensure(session, User, user_id, user_ids(user), "user")


async def ensure_linkable_user(session: AsyncSession, *, user: User, user_id: int) -> User:
    """The user ``user`` may link to a dwelling; 404 for anyone else, as for a missing id."""
    return await _ensure(session, User, user_id, linkable_user_ids(user), "user")
