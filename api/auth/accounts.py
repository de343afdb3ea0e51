"""Account management: creating users, changing roles, and the GDPR export and erasure."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.alerts.models import AlertDelivery, AlertMute
from api.auth import passwords
from api.auth.service import revoke_all
from core import audit
from core.audit import AuditAction
from core.exceptions import Conflict
from core.models import (
    AuditLog,
    BuildingManager,
    DwellingOccupant,
    Language,
    RefreshToken,
    Role,
    SmsCode,
    SmsSendLog,
    TechnicianAssignment,
    User,
)


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
    taken = await session.scalar(select(User.id).where(User.phone == phone))
    if taken is not None:
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


async def update_user(
    session: AsyncSession, *, user: User, changes: dict[str, Any], actor: User, ip: str | None
) -> User:
    """Apply profile changes; a role change is audited on its own."""
    old_role = user.role
    for name, value in changes.items():
        setattr(user, name, value)
    if changes.get("is_active") is False:
        await revoke_all(session, user_id=user.id)
    await session.flush()
    if user.role is not old_role:
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


def _row(obj: Any, *columns: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in columns:
        value = getattr(obj, name)
        out[name] = value.isoformat() if hasattr(value, "isoformat") else value
        if hasattr(value, "value"):
            out[name] = value.value
    return out


PROFILE_FIELDS = (
    "id",
    "phone",
    "first_name",
    "last_name",
    "language",
    "role",
    "is_active",
    "created_at",
    "updated_at",
    "last_login_at",
)


async def export_user_data(session: AsyncSession, *, user: User, ip: str | None) -> dict[str, Any]:
    """Everything held about the user, as JSON-ready data (GDPR art. 15 and 20)."""
    occupancies = await session.scalars(
        select(DwellingOccupant).where(DwellingOccupant.user_id == user.id)
    )
    managed = await session.scalars(
        select(BuildingManager.building_id).where(BuildingManager.user_id == user.id)
    )
    rounds = await session.scalars(
        select(TechnicianAssignment).where(TechnicianAssignment.technician_id == user.id)
    )
    sessions = await session.scalars(
        select(RefreshToken).where(RefreshToken.user_id == user.id).order_by(RefreshToken.issued_at)
    )
    sms = await session.scalars(
        select(SmsSendLog).where(SmsSendLog.phone == user.phone).order_by(SmsSendLog.sent_at)
    )
    alerts = await session.scalars(
        select(AlertDelivery).where(AlertDelivery.user_id == user.id).order_by(AlertDelivery.id)
    )
    mutes = await session.scalars(
        select(AlertMute.category).where(AlertMute.user_id == user.id).order_by(AlertMute.category)
    )
    trail = await session.scalars(
        select(AuditLog)
        .where(
            or_(
                AuditLog.actor_id == user.id,
                (AuditLog.target_type == "user") & (AuditLog.target_id == str(user.id)),
            )
        )
        .order_by(AuditLog.id)
    )
    data = {
        "exported_at": datetime.now(UTC).isoformat(),
        "profile": _row(user, *PROFILE_FIELDS),
        "dwellings": [
            _row(o, "dwelling_id", "relation", "start_date", "end_date") for o in occupancies
        ],
        "managed_buildings": list(managed),
        "technician_rounds": [_row(r, "building_id", "meter_id") for r in rounds],
        "sessions": [_row(t, "issued_at", "expires_at", "revoked_at") for t in sessions],
        "sms_sent": [_row(s, "purpose", "delivered", "sent_at") for s in sms],
        "alerts": [_row(a, "incident_id", "status", "text", "sent_at") for a in alerts],
        "alerts_muted": list(mutes),
        "audit_trail": [
            {
                **_row(a, "at", "action", "target_type", "target_id", "detail"),
                "ip": None if a.ip is None else str(a.ip),
            }
            for a in trail
        ],
    }
    await audit.record(
        session,
        action=AuditAction.DATA_EXPORTED,
        actor_id=user.id,
        ip=ip,
        target_type="user",
        target_id=user.id,
    )
    return data


async def erase_user(session: AsyncSession, *, user: User, actor: User, ip: str | None) -> None:
    """Erase personal data (GDPR art. 17) but keep the row and its links.

    Invoices and payments must stay for 10 years (accounting law), so they keep pointing at this
    row and its dwellings; what identifies the person (phone, names, password, codes, sessions,
    SMS history) goes. The audit trail names people by id only and stays as it is.
    """
    phone = user.phone
    await revoke_all(session, user_id=user.id)
    await session.execute(delete(SmsCode).where(SmsCode.user_id == user.id))
    if phone is not None:
        await session.execute(delete(SmsSendLog).where(SmsSendLog.phone == phone))
    await session.execute(delete(AlertDelivery).where(AlertDelivery.user_id == user.id))
    await session.execute(delete(AlertMute).where(AlertMute.user_id == user.id))
    user.phone = None
    user.first_name = ""
    user.last_name = ""
    user.password_hash = ""
    user.is_active = False
    user.last_login_at = None
    user.erased_at = datetime.now(UTC)
    await session.flush()
    await audit.record(
        session,
        action=AuditAction.DATA_ERASED,
        actor_id=actor.id,
        ip=ip,
        target_type="user",
        target_id=user.id,
    )
