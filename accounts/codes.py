"""One-time SMS codes: 6 digits from the OS CSPRNG, stored as an HMAC under the server key,
10 minutes, 5 attempts, accepted once; sends limited per number and per requesting address.

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
    session: AsyncSession,
    *,
    settings: Settings,
    phone: str,
    now: datetime,
    requester: str | None,
    owner: User | None,
) -> None:
    """Raises TooManyRequests when ``requester`` may not have a code sent to ``phone`` now.

    The limits, in order (docs/security.md, "SMS codes"): the number's cooldown; the requester's
    own daily share of the number; the requester's daily budget over all numbers; and the
    number's daily cap over all requesters, counted since its owner last signed in, which does
    not bind an address the owner has signed in from. So a stranger spends only their own share
    and cannot lock the owner out of a password reset.
    """
    auth = settings.auth
    day_ago = now - timedelta(days=1)
    repository = AccountsRepository(session)
    sends = await repository.sends_since(phone, day_ago)
    cooldown = timedelta(seconds=auth.code_cooldown_s)
    if sends and now - sends[-1][0] < cooldown:
        raise TooManyRequests(
            "a code was sent to this number moments ago; wait before asking again",
            retry_after_s=(sends[-1][0] + cooldown - now).total_seconds(),
        )
    mine = [sent_at for sent_at, by in sends if by == requester]
    if len(mine) >= auth.code_daily_quota:
        raise TooManyRequests(
            "this number has had all the codes it can get from here today",
            retry_after_s=(mine[0] + timedelta(days=1) - now).total_seconds(),
        )
    if requester is not None:
        count, oldest = await repository.requester_sends_since(requester, day_ago)
        if count >= auth.code_requester_daily_cap:
            raise TooManyRequests(
                "too many codes were asked for from this address today",
                retry_after_s=(oldest + timedelta(days=1) - now).total_seconds(),
            )
    since = max(day_ago, owner.last_login_at or day_ago) if owner is not None else day_ago
    counted = [sent_at for sent_at, _ in sends if sent_at > since]
    if len(counted) >= auth.code_number_daily_cap and not (
        owner is not None
        and requester is not None
        and await repository.signed_in_from(user_id=owner.id, ip=requester)
    ):
        raise TooManyRequests(
            "this number has had all its codes for today",
            retry_after_s=(counted[0] + timedelta(days=1) - now).total_seconds(),
        )


async def log_send(
    session: AsyncSession,
    *,
    settings: Settings,
    phone: str,
    purpose: CodePurpose,
    delivered: bool,
    requester: str | None,
    owner: User | None,
) -> SmsSendLog:
    """Count one SMS request against the number's and the requester's limits."""
    now = datetime.now(UTC)
    await check_send_allowed(
        session, settings=settings, phone=phone, now=now, requester=requester, owner=owner
    )
    entry = SmsSendLog(
        phone=phone, purpose=purpose, delivered=delivered, requester=requester, sent_at=now
    )
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
    requester: str | None,
    owner: User | None,
) -> int | None:
    """Queue a fresh code for ``user`` (older ones die); with no user, only log the request.

    Returns the outbox id of its SMS. Unknown numbers go through the same limits, so answers
    don't tell them apart; ``owner`` is the number's account even when it gets no code.
    """
    logged = await log_send(
        session,
        settings=settings,
        phone=phone,
        purpose=purpose,
        delivered=user is not None,
        requester=requester,
        owner=owner,
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
