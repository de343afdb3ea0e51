"""Object-level access: which buildings, dwellings, meters and users a signed-in user may reach.

Each ``*_ids`` function returns a subquery of the ids in reach, or ``None`` for "all" (admins).
The ``ensure_*`` helpers load one object and answer 404 when it is out of reach, exactly as when it
does not exist, so ids of other people's objects cannot be probed. Typical use in a route::

    meter = await scope.ensure_meter(session, user=user, meter_id=meter_id)
    statement = scope.restrict(select(Meter), Meter.id, scope.meter_ids(user))

Reach by role: admin everything; manager the buildings they manage and all below them, and the
customers occupying those dwellings; technician the buildings and meters of their rounds; customer
the dwellings they occupy today (tenant or owner) and their meters. Who may link whom to a dwelling
is ``linkable_user_ids`` (the table is in docs/security.md).
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Role, User
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
)

S = TypeVar("S", bound=Select[Any])
# A one-column SELECT of ids in reach.
Ids = Select[Any]
M = TypeVar("M", bound=Base)


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


def dwelling_ids(user: User) -> Ids | None:
    if user.role is Role.ADMIN:
        return None
    if user.role is Role.CUSTOMER:
        return select(DwellingOccupant.dwelling_id).where(
            DwellingOccupant.user_id == user.id, _current_occupancy()
        )
    buildings = building_ids(user)
    assert buildings is not None
    return select(Dwelling.id).where(Dwelling.building_id.in_(buildings))


def meter_ids(user: User) -> Ids | None:
    if user.role is Role.ADMIN:
        return None
    dwellings = dwelling_ids(user)
    assert dwellings is not None
    on_dwellings = Meter.dwelling_id.in_(dwellings)
    if user.role is Role.TECHNICIAN:
        on_round = Meter.id.in_(
            select(TechnicianAssignment.meter_id).where(
                TechnicianAssignment.technician_id == user.id,
                TechnicianAssignment.meter_id.is_not(None),
            )
        )
        return select(Meter.id).where(or_(on_dwellings, on_round))
    return select(Meter.id).where(on_dwellings)


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


async def ensure_user(session: AsyncSession, *, user: User, user_id: int) -> User:
    return await _ensure(session, User, user_id, user_ids(user), "user")


async def ensure_linkable_user(session: AsyncSession, *, user: User, user_id: int) -> User:
    """The user ``user`` may link to a dwelling; 404 for anyone else, as for a missing id."""
    return await _ensure(session, User, user_id, linkable_user_ids(user), "user")
