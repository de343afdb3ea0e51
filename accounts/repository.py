"""The accounts' queries: users by phone, SMS codes and their send log, refresh tokens. What a
GDPR export gathers across the schema is ``privacy.repository``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Select, String, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import CodePurpose, RefreshToken, Role, SmsCode, SmsSendLog, User
from core.audit import AuditAction, AuditLog


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

    async def family_is_live(self, family: UUID, *, now: datetime) -> bool:
        """Whether the family still holds an unrevoked, unexpired token (its latest)."""
        live = await self.session.scalar(
            select(RefreshToken.jti)
            .where(
                RefreshToken.family == family,
                RefreshToken.revoked_at.is_(None),
                RefreshToken.expires_at > now,
            )
            .limit(1)
        )
        return live is not None

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
