"""The accounts' queries: users by phone, SMS codes and their send log, refresh tokens, and what
a GDPR export gathers about a person across the schema."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Select, String, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import CodePurpose, RefreshToken, Role, SmsCode, SmsSendLog, User
from analytics.alerts.models import AlertDelivery, AlertMute
from core.audit import AuditAction, AuditLog
from registry.models import BuildingManager, DwellingOccupant, TechnicianAssignment


class AccountsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def user_by_phone(self, phone: str) -> User | None:
        """The account of a number, erased accounts left out."""
        return await self.session.scalar(
            select(User).where(User.phone == phone, User.erased_at.is_(None))
        )

    async def phone_taken(self, phone: str) -> bool:
        return await self.session.scalar(select(User.id).where(User.phone == phone)) is not None

    async def users(self, *, in_reach: Select[Any] | None, limit: int, offset: int) -> list[User]:
        """Users by id; ``in_reach`` is a SELECT of the ids the caller may see (None: all)."""
        statement = select(User)
        if in_reach is not None:
            statement = statement.where(User.id.in_(in_reach))
        return list(
            await self.session.scalars(statement.order_by(User.id).limit(limit).offset(offset))
        )

    async def active_admin_ids_for_update(self) -> set[int]:
        """Ids of the active admins, locked so two admins cannot demote each other at once."""
        return set(
            await self.session.scalars(
                select(User.id)
                .where(User.role == Role.ADMIN, User.is_active, User.erased_at.is_(None))
                .with_for_update()
            )
        )

    async def sends_since(
        self, phone: str, since: datetime
    ) -> Sequence[tuple[datetime, str | None]]:
        """(time, requester) of each code SMS asked for ``phone`` after ``since``, oldest first.

        Few rows: a number's daily cap bounds them.
        """
        rows = await self.session.execute(
            select(SmsSendLog.sent_at, func.host(SmsSendLog.requester, type_=String))
            .where(SmsSendLog.phone == phone, SmsSendLog.sent_at > since)
            .order_by(SmsSendLog.sent_at)
        )
        return [(row[0], row[1]) for row in rows]

    async def requester_sends_since(self, requester: str, since: datetime) -> tuple[int, datetime]:
        """How many code SMS ``requester`` asked for, to any number, after ``since``; the oldest."""
        count, oldest = (
            await self.session.execute(
                select(func.count(), func.min(SmsSendLog.sent_at)).where(
                    SmsSendLog.requester == requester, SmsSendLog.sent_at > since
                )
            )
        ).one()
        return count, oldest or since

    async def signed_in_from(self, *, user_id: int, ip: str) -> bool:
        """Whether the user ever signed in (or activated the account) from ``ip``."""
        found = await self.session.scalar(
            select(AuditLog.id)
            .where(
                AuditLog.actor_id == user_id,
                AuditLog.ip == ip,
                AuditLog.action.in_(
                    [AuditAction.LOGIN_SUCCEEDED.value, AuditAction.USER_ACTIVATED.value]
                ),
            )
            .limit(1)
        )
        return found is not None

    async def retire_codes(self, *, user_id: int, purpose: CodePurpose, at: datetime) -> None:
        """Mark the user's unused codes for ``purpose`` as used, so only a new one works."""
        await self.session.execute(
            update(SmsCode)
            .where(
                SmsCode.user_id == user_id, SmsCode.purpose == purpose, SmsCode.used_at.is_(None)
            )
            .values(used_at=at)
        )

    async def live_code(
        self, *, user_id: int, purpose: CodePurpose, now: datetime, max_attempts: int
    ) -> SmsCode | None:
        """The newest unused, unexpired code with tries left, locked for this transaction."""
        return await self.session.scalar(
            select(SmsCode)
            .where(
                SmsCode.user_id == user_id,
                SmsCode.purpose == purpose,
                SmsCode.used_at.is_(None),
                SmsCode.expires_at > now,
                SmsCode.attempts < max_attempts,
            )
            .order_by(SmsCode.created_at.desc())
            .limit(1)
            .with_for_update()
        )

    async def refresh_token_for_update(self, jti: UUID) -> RefreshToken | None:
        return await self.session.get(RefreshToken, jti, with_for_update=True)

    async def revoke_family(self, family: UUID, *, at: datetime) -> None:
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family == family, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    async def revoke_user_tokens(self, user_id: int, *, at: datetime) -> None:
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    async def bump_token_version(self, user_id: int) -> None:
        """Invalidate the user's access tokens, atomically against concurrent bumps."""
        await self.session.execute(
            update(User)
            .where(User.id == user_id)
            .values(token_version=User.token_version + 1)
            .execution_options(synchronize_session="fetch")
        )

    async def occupancies(self, user_id: int) -> Sequence[DwellingOccupant]:
        return (
            await self.session.scalars(
                select(DwellingOccupant).where(DwellingOccupant.user_id == user_id)
            )
        ).all()

    async def managed_buildings(self, user_id: int) -> list[int]:
        return list(
            await self.session.scalars(
                select(BuildingManager.building_id).where(BuildingManager.user_id == user_id)
            )
        )

    async def rounds(self, technician_id: int) -> Sequence[TechnicianAssignment]:
        return (
            await self.session.scalars(
                select(TechnicianAssignment).where(
                    TechnicianAssignment.technician_id == technician_id
                )
            )
        ).all()

    async def refresh_tokens(self, user_id: int) -> Sequence[RefreshToken]:
        return (
            await self.session.scalars(
                select(RefreshToken)
                .where(RefreshToken.user_id == user_id)
                .order_by(RefreshToken.issued_at)
            )
        ).all()

    async def sends(self, phone: str | None) -> Sequence[SmsSendLog]:
        return (
            await self.session.scalars(
                select(SmsSendLog).where(SmsSendLog.phone == phone).order_by(SmsSendLog.sent_at)
            )
        ).all()

    async def alert_deliveries(self, user_id: int) -> Sequence[AlertDelivery]:
        return (
            await self.session.scalars(
                select(AlertDelivery)
                .where(AlertDelivery.user_id == user_id)
                .order_by(AlertDelivery.id)
            )
        ).all()

    async def muted_alert_categories(self, user_id: int) -> list[str]:
        return list(
            await self.session.scalars(
                select(AlertMute.category)
                .where(AlertMute.user_id == user_id)
                .order_by(AlertMute.category)
            )
        )

    async def audit_trail(self, user_id: int) -> Sequence[AuditLog]:
        """Entries the user made or that name the user as their target, oldest first."""
        return (
            await self.session.scalars(
                select(AuditLog)
                .where(
                    or_(
                        AuditLog.actor_id == user_id,
                        (AuditLog.target_type == "user") & (AuditLog.target_id == str(user_id)),
                    )
                )
                .order_by(AuditLog.id)
            )
        ).all()

    async def delete_personal_traces(self, *, user_id: int, phone: str | None) -> None:
        """Delete the user's codes, code SMS log and alert history and preferences."""
        await self.session.execute(delete(SmsCode).where(SmsCode.user_id == user_id))
        if phone is not None:
            await self.session.execute(delete(SmsSendLog).where(SmsSendLog.phone == phone))
        await self.session.execute(delete(AlertDelivery).where(AlertDelivery.user_id == user_id))
        await self.session.execute(delete(AlertMute).where(AlertMute.user_id == user_id))
