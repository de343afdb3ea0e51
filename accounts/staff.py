"""The accounts staff create and edit: users of any role, their rounds and buildings, and the rule
that a deployment never loses its last active admin."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from accounts import passwords, scope
from accounts.exceptions import (
    LastAdmin,
)
from accounts.models import Role, User
from accounts.repository import AccountsRepository
from accounts.service import revoke_all
from core import audit
from core.audit import AuditAction
from core.countries import Language
from core.exceptions import Conflict, InvalidInput, NotFound
from registry import service as registry_service
from registry.models import TechnicianAssignment


async def create_user(
    session: AsyncSession,
    *,
    phone: str,
    first_name: str,
    last_name: str,
    password: str,
    language: Language,
    role: Role,
    actor: User | None,
    ip: str | None,
) -> User:
    """An account made by staff (or the CLI, with no actor): active at once."""
    if await AccountsRepository(session).phone_taken(phone):
        raise Conflict(f"{phone} already has an account")
    user = User(
        phone=phone,
        first_name=first_name,
        last_name=last_name,
        language=language,
        role=role,
        is_active=True,
        password_hash=passwords.hash_password(password),
    )
    session.add(user)
    await session.flush()
    await audit.record(
        session,
        action=AuditAction.USER_CREATED,
        actor_id=actor.id if actor else None,
        ip=ip,
        target_type="user",
        target_id=user.id,
        detail={"role": role.value},
    )
    return user


async def ensure_not_last_admin(session: AsyncSession, *, user: User) -> None:
    """Refuse to let ``user`` stop being an active admin if no other active admin is left: a
    deployment without one cannot be administered, nor get one back, through the API."""
    if user.role is not Role.ADMIN or not user.is_active or user.erased_at is not None:
        return
    if not await AccountsRepository(session).active_admin_ids_for_update() - {user.id}:
        raise LastAdmin(f"user {user.id} is the last active admin: make another admin first")


async def update_user(
    session: AsyncSession, *, user: User, changes: dict[str, Any], actor: User, ip: str | None
) -> User:
    """Apply profile changes; a role change is audited on its own."""
    if changes.get("is_active") is False or changes.get("role", Role.ADMIN) is not Role.ADMIN:
        await ensure_not_last_admin(session, user=user)
    old_role = user.role
    for name, value in changes.items():
        setattr(user, name, value)
    if changes.get("is_active") is False:
        user.deactivated_at = user.deactivated_at or datetime.now(UTC)
        await revoke_all(session, user_id=user.id)
    elif changes.get("is_active") is True:
        user.deactivated_at = None
    await session.flush()
    if user.role is not old_role:
        await AccountsRepository(session).bump_token_version(user.id)
        await audit.record(
            session,
            action=AuditAction.ROLE_CHANGED,
            actor_id=actor.id,
            ip=ip,
            target_type="user",
            target_id=user.id,
            detail={"from": old_role.value, "to": user.role.value},
        )
    other = sorted(set(changes) - {"role"})
    if other:
        await audit.record(
            session,
            action=AuditAction.USER_UPDATED,
            actor_id=actor.id,
            ip=ip,
            target_type="user",
            target_id=user.id,
            detail={"fields": other},
        )
    return user


async def list_users(session: AsyncSession, *, user: User, limit: int, offset: int) -> list[User]:
    """The users in reach of ``user``, by id."""
    return await AccountsRepository(session).users(
        in_reach=scope.user_ids(user), limit=limit, offset=offset
    )


async def assign_round(
    session: AsyncSession,
    *,
    actor: User,
    user_id: int,
    building_id: int | None,
    meter_id: int | None,
) -> TechnicianAssignment:
    """Put a building or a meter on the round of technician ``user_id`` (in ``actor``'s reach)."""
    technician = await scope.ensure_user(session, user=actor, user_id=user_id)
    if technician.role is not Role.TECHNICIAN:
        raise InvalidInput(f"user {user_id} is a {technician.role.value}, not a technician")
    return await registry_service.assign_technician(
        session, technician_id=user_id, building_id=building_id, meter_id=meter_id
    )


async def add_building_manager(session: AsyncSession, *, building_id: int, user_id: int) -> None:
    """Make manager ``user_id`` responsible for the building."""
    manager = await session.get(User, user_id)
    if manager is None:
        raise NotFound(f"user {user_id} does not exist")
    if manager.role is not Role.MANAGER:
        raise InvalidInput(f"user {user_id} is a {manager.role.value}, not a manager")
    await registry_service.set_building_manager(
        session, building_id=building_id, user_id=user_id, managed=True
    )
