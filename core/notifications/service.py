"""One outbox for every SMS: domains enqueue in their own transaction, ``drain`` sends.

Enqueuing writes an ``sms_outbox`` row in the transaction that decided the message (a code, an
alert, a billing notice), so a message exists exactly when its decision was committed; its
``dedup_key`` makes deciding twice harmless. ``drain`` then sends what is due, one row per
transaction: the row is claimed with ``FOR UPDATE SKIP LOCKED`` (two senders never take the same
one), the provider is called while the lock is held, and the answer (sent with the provider's
id, or the error) is written and committed in that same transaction.

A message may name a *send check* (``NewSms.send_check``), registered by its domain
(``register_send_check``): the sender runs it on the claimed row's connection, in the transaction
that records the send, and drops the message when it says no (a payment reminder for an invoice
paid since it was queued). The check may lock what it reads, so that what would change its answer
waits for the send to be recorded. A check this process does not know is a failed attempt
(retried, then failed): never sent unchecked.

Retries follow one ``RetryPolicy``: a refused send is queued again after ``retry_s``, doubled
after each failure up to ``retry_cap_s``, and marked ``failed`` after ``max_attempts``. A
provider outage therefore delays messages; it never loses or duplicates them.

If the process dies after the provider accepted a message but before the commit, the lock goes
with the connection and the row is still queued: the next drain sends it again. That window is
the only way a customer gets the same SMS twice (at least once, never lost).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import SmsSettings
from core.notifications.repository import AsyncOutboxRepository, NewSms, OutboxRepository
from core.sms import SmsDeliveryFailed, SmsProvider

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    retry_s: int = 300
    retry_cap_s: int = 6 * 3600

    @classmethod
    def of(cls, settings: SmsSettings) -> RetryPolicy:
        return cls(settings.max_attempts, settings.retry_s, settings.retry_cap_s)

    def retry_at(self, *, attempts: int, now: datetime) -> datetime | None:
        """When to try again after ``attempts`` failed tries; None once they are all used."""
        if attempts >= self.max_attempts:
            return None
        return now + timedelta(seconds=min(self.retry_cap_s, self.retry_s * 2 ** (attempts - 1)))


@dataclass
class DrainReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    dropped: int = 0

    def __str__(self) -> str:
        return (
            f"{self.sent} sent, {self.retrying} to retry, {self.failed} failed,"
            f" {self.dropped} dropped by their check"
        )


# Whether a queued message still holds, asked with its ``send_check_id`` (module docstring).
SendCheck = Callable[[psycopg.Connection[Any], int], bool]
SEND_CHECKS: dict[str, SendCheck] = {}


def register_send_check(name: str, check: SendCheck) -> None:
    """Make ``check`` the send check called ``name`` (domains register theirs at import)."""
    SEND_CHECKS[name] = check


def enqueue(conn: psycopg.Connection[Any], sms: NewSms, *, now: datetime) -> int | None:
    """Queue ``sms`` in the caller's transaction; None if its dedup key was queued before."""
    return OutboxRepository(conn).enqueue(sms, now=now)


async def enqueue_async(session: AsyncSession, sms: NewSms, *, now: datetime) -> int | None:
    """``enqueue`` on an async session."""
    return await AsyncOutboxRepository(session).enqueue(sms, now=now)


async def cancel_queued(session: AsyncSession, *, user_id: int, kind: str) -> None:
    """Drop a person's messages of ``kind`` that have not gone out (a newer one replaces them)."""
    await AsyncOutboxRepository(session).cancel_queued(user_id=user_id, kind=kind)


async def forget_recipient(session: AsyncSession, *, user_id: int, phone: str | None) -> None:
    """GDPR erasure: no number or text of this person's messages stays in the outbox."""
    await AsyncOutboxRepository(session).forget_recipient(user_id=user_id, phone=phone)


def drain(
    conn: psycopg.Connection[Any],
    *,
    provider: SmsProvider,
    policy: RetryPolicy,
    now: datetime,
    ids: Sequence[int] | None = None,
    limit: int = 1000,
) -> DrainReport:
    """Send every queued SMS due by ``now`` (only ``ids`` if given, at most ``limit``).

    ``conn`` must be in autocommit mode: each message is one transaction (module docstring).
    """
    repo = OutboxRepository(conn)
    report = DrainReport()
    for _ in range(limit):
        with conn.transaction():
            due = repo.claim_next(now=now, ids=ids)
            if due is None:
                break
            if due.send_check is not None:
                check = SEND_CHECKS.get(due.send_check)
                if check is not None and due.send_check_id is not None:
                    if not check(conn, due.send_check_id):
                        repo.record_dropped(due.id, reason=f"{due.send_check} no longer holds")
                        report.dropped += 1
                        continue
                else:
                    error = f"send check {due.send_check!r} is not known in this process"
                    logger.error("SMS %d: %s", due.id, error)
                    retry_at = policy.retry_at(attempts=due.attempts + 1, now=now)
                    repo.record_failure(due.id, error=error, retry_at=retry_at)
                    report.retrying += retry_at is not None
                    report.failed += retry_at is None
                    continue
            try:
                provider_id = provider.send(due.phone, due.text)
            except SmsDeliveryFailed as exc:
                error = str(exc.__cause__ or exc)
                retry_at = policy.retry_at(attempts=due.attempts + 1, now=now)
                repo.record_failure(due.id, error=error, retry_at=retry_at)
                logger.warning("SMS %d failed (attempt %d): %s", due.id, due.attempts + 1, error)
                if retry_at is None:
                    report.failed += 1
                else:
                    report.retrying += 1
                continue
            repo.record_sent(due.id, provider_id=provider_id, now=now)
            report.sent += 1
    return report
