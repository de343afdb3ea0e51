"""Accounts: sign-up, activation, sign-in, token rotation, logout, password reset (the accounts
staff create and edit are ``accounts.staff``).

Answers never tell whether a number is registered beyond what the flow needs: sign-up and the
code requests answer the same for every number, and a failed login never says which half was wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from accounts import codes, passwords
from accounts.exceptions import (
    AccountInactive,
    InvalidCredentials,
    InvalidToken,
    RefreshTokenRejected,
)
from accounts.models import CodePurpose, RefreshToken, Role, User
from accounts.repository import AccountsRepository
from accounts.tokens import TokenType, decode_token, encode_token
from core import audit
from core.audit import AuditAction
from core.config import Settings
from core.countries import Language
from core.notifications import service as notifications
from core.notifications.repository import NewSms
from core.sms import MessageKind, render_message


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


async def find_user_by_phone(session: AsyncSession, *, phone: str) -> User | None:
    return await AccountsRepository(session).user_by_phone(phone)


async def register(
    session: AsyncSession,
    *,
    settings: Settings,
    phone: str,
    first_name: str,
    last_name: str,
    password: str,
    language: Language,
    ip: str | None,
) -> int | None:
    """Create an inactive account and queue it a code; returns the SMS's outbox id.

    A number that already has an account gets, instead, a new code (still inactive; its password
    is left alone) or a note that it is registered (active): the caller's answer is the same.
    """
    now = datetime.now(UTC)
    user = await find_user_by_phone(session, phone=phone)
    await codes.check_send_allowed(
        session, settings=settings, phone=phone, now=now, requester=ip, owner=user
    )
    if user is None:
        user = User(
            phone=phone,
            first_name=first_name,
            last_name=last_name,
            language=language,
            role=Role.CUSTOMER,
            is_active=False,
            password_hash=passwords.hash_password(password),
        )
        session.add(user)
        await session.flush()
        await audit.record(
            session,
            action=AuditAction.USER_REGISTERED,
            actor_id=user.id,
            ip=ip,
            target_type="user",
            target_id=user.id,
        )
    if not user.is_active:
        # A deactivated account gets no code (only an admin brings it back), yet the same answer.
        return await codes.send_code(
            session,
            settings=settings,
            phone=phone,
            purpose=CodePurpose.ACTIVATION,
            user=user if user.awaiting_activation else None,
            requester=ip,
            owner=user,
        )
    logged = await codes.log_send(
        session,
        settings=settings,
        phone=phone,
        purpose=CodePurpose.ACTIVATION,
        delivered=True,
        requester=ip,
        owner=user,
    )
    kind = MessageKind.ALREADY_REGISTERED
    sms = NewSms(
        phone=phone,
        language=user.language.value,
        kind=kind.value,
        text=render_message(kind, user.language),
        dedup_key=f"{kind.value}:{logged.id}",
        user_id=user.id,
    )
    return await notifications.enqueue_async(session, sms, now=logged.sent_at)


async def resend_code(
    session: AsyncSession,
    *,
    settings: Settings,
    phone: str,
    purpose: CodePurpose,
    ip: str | None,
) -> int | None:
    """Queue a new code for a pending activation or a password reset (its outbox id); silent
    for other numbers and for deactivated accounts."""
    user = await find_user_by_phone(session, phone=phone)
    wanted = user is not None and (
        (purpose is CodePurpose.ACTIVATION and user.awaiting_activation)
        or (purpose is CodePurpose.PASSWORD_RESET and user.is_active)
    )
    return await codes.send_code(
        session,
        settings=settings,
        phone=phone,
        purpose=purpose,
        user=user if wanted else None,
        requester=ip,
        owner=user,
    )


async def activate(
    session: AsyncSession, *, settings: Settings, phone: str, code: str, ip: str | None
) -> TokenPair:
    user = await find_user_by_phone(session, phone=phone)
    pending = user if user is not None and user.awaiting_activation else None
    await codes.consume_code(
        session, settings=settings, user=pending, purpose=CodePurpose.ACTIVATION, code=code
    )
    assert pending is not None
    pending.is_active = True
    # Activating signs in: the number's code cap counts afresh (codes.check_send_allowed).
    pending.last_login_at = datetime.now(UTC)
    await audit.record(
        session,
        action=AuditAction.USER_ACTIVATED,
        actor_id=pending.id,
        ip=ip,
        target_type="user",
        target_id=pending.id,
    )
    return await _issue_pair(session, settings=settings, user=pending, family=uuid4())


async def login(
    session: AsyncSession, *, settings: Settings, phone: str, password: str, ip: str | None
) -> TokenPair:
    user = await find_user_by_phone(session, phone=phone)
    if not passwords.verify_password(user.password_hash if user else None, password):
        await audit.record(
            session,
            action=AuditAction.LOGIN_FAILED,
            actor_id=user.id if user else None,
            ip=ip,
            detail={"reason": "wrong password" if user else "unknown phone"},
        )
        raise InvalidCredentials("phone number or password is wrong")
    assert user is not None
    if not user.is_active:
        await audit.record(
            session,
            action=AuditAction.LOGIN_FAILED,
            actor_id=user.id,
            ip=ip,
            detail={"reason": "inactive"},
        )
        if user.deactivated_at is not None:
            raise AccountInactive("this account was deactivated; ask an administrator")
        raise AccountInactive("activate the account with the code sent by SMS first")
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    user.last_login_at = datetime.now(UTC)
    await audit.record(session, action=AuditAction.LOGIN_SUCCEEDED, actor_id=user.id, ip=ip)
    return await _issue_pair(session, settings=settings, user=user, family=uuid4())


async def _issue_pair(
    session: AsyncSession, *, settings: Settings, user: User, family: UUID
) -> TokenPair:
    access = encode_token(user, settings=settings, token_type=TokenType.ACCESS)
    refresh = encode_token(user, settings=settings, token_type=TokenType.REFRESH, family=family)
    session.add(
        RefreshToken(jti=refresh.jti, family=family, user_id=user.id, expires_at=refresh.expires_at)
    )
    await session.flush()
    return TokenPair(
        access_token=access.token,
        refresh_token=refresh.token,
        expires_in=settings.auth.access_token_minutes * 60,
    )


async def _refresh_row(session: AsyncSession, *, settings: Settings, token: str) -> RefreshToken:
    claims = decode_token(token, settings=settings, expected=TokenType.REFRESH)
    try:
        jti = UUID(claims["jti"])
    except ValueError:
        raise InvalidToken("the token is not valid") from None
    row = await AccountsRepository(session).refresh_token_for_update(jti)
    if row is None:
        raise RefreshTokenRejected("this refresh token is unknown")
    return row


async def refresh(
    session: AsyncSession,
    *,
    settings: Settings,
    token: str,
    ip: str | None,
    grace_s: int = 0,
) -> TokenPair:
    """Rotate: a new pair, the old refresh token revoked. Reusing a revoked one revokes its
    whole family, since the token or its successor is in someone else's hands.

    Args:
        grace_s: a token rotated at most this long ago, whose family still has a live token,
            is honoured once more instead: two browser tabs, or a page left while its refresh
            was in flight, present the same cookie (the web app's flow; 0 for API clients).
    """
    row = await _refresh_row(session, settings=settings, token=token)
    now = datetime.now(UTC)
    repository = AccountsRepository(session)
    if row.revoked_at is not None:
        raced = (
            grace_s > 0
            and now - row.revoked_at <= timedelta(seconds=grace_s)
            and await repository.family_is_live(row.family, now=now)
        )
        if not raced:
            await repository.revoke_family(row.family, at=now)
            await repository.bump_token_version(row.user_id)
            await audit.record(
                session,
                action=AuditAction.TOKEN_REUSED,
                actor_id=row.user_id,
                ip=ip,
                detail={"family": str(row.family)},
            )
            raise RefreshTokenRejected("this refresh token was already used; sign in again")
    user = await session.get(User, row.user_id)
    if user is None or not user.is_active or user.erased_at is not None:
        raise RefreshTokenRejected("the account of this token is no longer active")
    if row.revoked_at is None:
        row.revoked_at = now
    await audit.record(session, action=AuditAction.TOKEN_REFRESHED, actor_id=user.id, ip=ip)
    return await _issue_pair(session, settings=settings, user=user, family=row.family)


async def logout(session: AsyncSession, *, settings: Settings, token: str, ip: str | None) -> None:
    """Revoke this refresh token and end the user's access tokens (other devices refresh)."""
    row = await _refresh_row(session, settings=settings, token=token)
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
    await AccountsRepository(session).bump_token_version(row.user_id)
    await audit.record(session, action=AuditAction.LOGGED_OUT, actor_id=row.user_id, ip=ip)


async def revoke_all(session: AsyncSession, *, user_id: int) -> None:
    """End every session of the user: refresh tokens revoked, access tokens ended."""
    await AccountsRepository(session).revoke_user_tokens(user_id, at=datetime.now(UTC))
    await AccountsRepository(session).bump_token_version(user_id)


async def reset_password(
    session: AsyncSession,
    *,
    settings: Settings,
    phone: str,
    code: str,
    new_password: str,
    ip: str | None,
) -> None:
    """Set a new password with an SMS code; every session of the account ends."""
    user = await find_user_by_phone(session, phone=phone)
    active = user if user is not None and user.is_active else None
    await codes.consume_code(
        session, settings=settings, user=active, purpose=CodePurpose.PASSWORD_RESET, code=code
    )
    assert active is not None
    active.password_hash = passwords.hash_password(new_password)
    await revoke_all(session, user_id=active.id)
    await audit.record(session, action=AuditAction.PASSWORD_RESET, actor_id=active.id, ip=ip)
