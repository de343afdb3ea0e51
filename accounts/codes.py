"""One-time SMS codes: 6 digits from the OS CSPRNG, stored as an HMAC under the server key,
10 minutes, 5 attempts, accepted once; sends limited per number by a cooldown and a daily quota.

The SMS goes into the outbox (``core.notifications``) with the code, in the same transaction:
the caller drains it right after the commit; a code replaced before it left is cancelled.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from accounts.exceptions import CodeRejected
from accounts.models import CodePurpose, SmsCode, SmsSendLog, User
from accounts.repository import AccountsRepository
from core.config import Settings
from core.exceptions import TooManyRequests
from core.notifications import service as notifications
from core.notifications.repository import NewSms
from core.sms import MessageKind, render_message

CODE_DIGITS = 6
_MESSAGE_OF = {
    CodePurpose.ACTIVATION: MessageKind.ACTIVATION_CODE,
    CodePurpose.PASSWORD_RESET: MessageKind.PASSWORD_RESET_CODE,
}
REJECTED = "the code is wrong, already used or expired; ask for a new one if needed"


def _digest(settings: Settings, *, user_id: int, purpose: CodePurpose, code: str) -> str:
    # Six digits are a million guesses: the key, not the hash, is what protects a leaked table.
    message = f"{user_id}:{purpose.value}:{code}".encode()
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


async def check_send_allowed(
    session: AsyncSession, *, settings: Settings, phone: str, now: datetime
) -> None:
    """Raises TooManyRequests inside the cooldown or beyond the daily quota of ``phone``."""
    day_ago = now - timedelta(days=1)
    last, count, oldest = await AccountsRepository(session).sends_since(phone, day_ago)
    cooldown = timedelta(seconds=settings.auth.code_cooldown_s)
    if last is not None and now - last < cooldown:
        raise TooManyRequests(
            "a code was sent to this number moments ago; wait before asking again",
            retry_after_s=(last + cooldown - now).total_seconds(),
        )
    if count >= settings.auth.code_daily_quota:
        raise TooManyRequests(
            "this number has had all its codes for today",
            retry_after_s=((oldest or now) + timedelta(days=1) - now).total_seconds(),
        )


async def log_send(
    session: AsyncSession,
    *,
    settings: Settings,
    phone: str,
    purpose: CodePurpose,
    delivered: bool,
) -> SmsSendLog:
    """Count one SMS request against the number's cooldown and quota."""
    now = datetime.now(UTC)
    await check_send_allowed(session, settings=settings, phone=phone, now=now)
    entry = SmsSendLog(phone=phone, purpose=purpose, delivered=delivered, sent_at=now)
    session.add(entry)
    await session.flush()
    return entry


async def send_code(
    session: AsyncSession,
    *,
    settings: Settings,
    phone: str,
    purpose: CodePurpose,
    user: User | None,
) -> int | None:
    """Queue a fresh code for ``user`` (older ones die); with no user, only log the request.

    Returns the outbox id of its SMS. Unknown numbers go through the same cooldown and quota,
    so answers don't tell them apart.
    """
    logged = await log_send(
        session, settings=settings, phone=phone, purpose=purpose, delivered=user is not None
    )
    if user is None:
        return None
    now = logged.sent_at
    kind = _MESSAGE_OF[purpose]
    await AccountsRepository(session).retire_codes(user_id=user.id, purpose=purpose, at=now)
    await notifications.cancel_queued(session, user_id=user.id, kind=kind.value)
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    sms_code = SmsCode(
        user_id=user.id,
        purpose=purpose,
        code_hash=_digest(settings, user_id=user.id, purpose=purpose, code=code),
        created_at=now,
        expires_at=now + timedelta(seconds=settings.auth.code_ttl_s),
    )
    session.add(sms_code)
    await session.flush()
    text = render_message(kind, user.language, code=code, minutes=settings.auth.code_ttl_s // 60)
    sms = NewSms(
        phone=phone,
        language=user.language.value,
        kind=kind.value,
        text=text,
        dedup_key=f"{kind.value}:{sms_code.id}",
        user_id=user.id,
    )
    return await notifications.enqueue_async(session, sms, now=now)


async def consume_code(
    session: AsyncSession,
    *,
    settings: Settings,
    user: User | None,
    purpose: CodePurpose,
    code: str,
) -> None:
    """Accept ``code`` once, or count a wrong try.

    Raises:
        CodeRejected: the same answer for an unknown number, a wrong code and a dead one.
    """
    if user is None:
        raise CodeRejected(REJECTED)
    now = datetime.now(UTC)
    live = await AccountsRepository(session).live_code(
        user_id=user.id, purpose=purpose, now=now, max_attempts=settings.auth.code_max_attempts
    )
    if live is None:
        raise CodeRejected(REJECTED)
    expected = _digest(settings, user_id=user.id, purpose=purpose, code=code)
    if not hmac.compare_digest(expected, live.code_hash):
        live.attempts += 1
        await session.flush()
        raise CodeRejected(REJECTED)
    live.used_at = now
    await session.flush()
