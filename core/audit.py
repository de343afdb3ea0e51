"""The audit trail: who did what, when, from where. Any package records through ``record``.

The ``audit_log`` table is append-only (a trigger refuses UPDATE, DELETE and TRUNCATE). Entries
name people by user id, never by phone or name, so erasing a person's data leaves the trail intact
and anonymous.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, DateTime, Identity, Index, Integer, String, func, insert, text
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base


class AuditLog(Base):
    """Append-only record of who did what, when, from where; a trigger refuses UPDATE/DELETE."""

    __tablename__ = "audit_log"
    __table_args__ = (
        # Investigations read one actor's or one object's history by time.
        Index("ix_audit_log_actor_at", "actor_id", "at"),
        Index("ix_audit_log_target", "target_type", "target_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # No foreign key: the log outlives what it talks about and must never block a change.
    actor_id: Mapped[int | None] = mapped_column(Integer)
    ip: Mapped[str | None] = mapped_column(INET)
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


class AuditAction(StrEnum):
    USER_REGISTERED = "user.registered"
    USER_ACTIVATED = "user.activated"
    USER_CREATED = "user.created"
    USER_UPDATED = "user.updated"
    ROLE_CHANGED = "user.role_changed"
    LOGIN_SUCCEEDED = "auth.login_succeeded"
    LOGIN_FAILED = "auth.login_failed"
    TOKEN_REFRESHED = "auth.token_refreshed"
    TOKEN_REUSED = "auth.token_reused"
    LOGGED_OUT = "auth.logged_out"
    PASSWORD_RESET = "auth.password_reset"
    TARIFF_CHANGED = "tariff.changed"
    BILLING_ACTION = "billing.action"
    DATA_EXPORTED = "gdpr.exported"
    DATA_ERASED = "gdpr.erased"
    LINK_CHANGED = "access.link_changed"
    JOB_RETRIED = "job.retried"


async def record(
    session: AsyncSession,
    *,
    action: AuditAction | str,
    actor_id: int | None = None,
    ip: str | None = None,
    target_type: str | None = None,
    target_id: int | str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one entry in the caller's transaction (it stands or falls with the change)."""
    await session.execute(
        insert(AuditLog).values(
            action=str(action),
            actor_id=actor_id,
            ip=ip,
            target_type=target_type,
            target_id=None if target_id is None else str(target_id),
            detail=detail or {},
        )
    )
