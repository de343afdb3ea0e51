"""All SQL of the SMS outbox.

``OutboxRepository`` (psycopg): enqueue from the jobs, and the sender's claim and outcome.
``AsyncOutboxRepository`` (async session): enqueue and cancel from the API's requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.notifications.models import OutboxStatus, SmsOutbox


@dataclass(frozen=True)
class NewSms:
    """A message a domain decided to send."""

    phone: str
    language: str
    kind: str
    text: str
    dedup_key: str
    user_id: int | None = None
    # A check the sender runs before sending (``service.SEND_CHECKS``) and what it is about.
    send_check: str | None = None
    send_check_id: int | None = None


@dataclass(frozen=True)
class DueSms:
    id: int
    phone: str
    text: str
    attempts: int
    send_check: str | None = None
    send_check_id: int | None = None


class OutboxRepository:
    """The outbox on a psycopg connection (the alert job and the sender)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def enqueue(self, sms: NewSms, *, now: datetime) -> int | None:
        """The new row's id; None when ``sms.dedup_key`` is already queued (or was sent)."""
        row = self.conn.execute(
            """
            INSERT INTO sms_outbox (user_id, phone, language, kind, text, dedup_key,
                                    send_check, send_check_id, next_attempt_at, created_at)
            VALUES (%(user_id)s, %(phone)s, %(language)s, %(kind)s, %(text)s, %(dedup_key)s,
                    %(send_check)s, %(send_check_id)s, %(now)s, %(now)s)
            ON CONFLICT (dedup_key) DO NOTHING
            RETURNING id
            """,
            {**sms.__dict__, "now": now},
        ).fetchone()
        return int(row[0]) if row else None

    def claim_next(self, *, now: datetime, ids: Sequence[int] | None) -> DueSms | None:
        """The oldest queued SMS due by ``now`` (among ``ids`` if given), locked until the
        transaction ends; rows another sender holds are skipped, so none is sent twice at once."""
        with self.conn.cursor(row_factory=class_row(DueSms)) as cur:
            return cur.execute(
                """
                SELECT id, phone, text, attempts, send_check, send_check_id FROM sms_outbox
                WHERE status = 'queued' AND next_attempt_at <= %(now)s
                  AND (%(ids)s::bigint[] IS NULL OR id = ANY(%(ids)s))
                ORDER BY next_attempt_at, id
                LIMIT 1
                FOR UPDATE SKIP LOCKED
                """,
                {"now": now, "ids": None if ids is None else list(ids)},
            ).fetchone()

    def record_sent(self, sms_id: int, *, provider_id: str, now: datetime) -> None:
        self.conn.execute(
            "UPDATE sms_outbox SET status = 'sent', attempts = attempts + 1, provider_id = %s,"
            " last_error = NULL, next_attempt_at = NULL, sent_at = %s WHERE id = %s",
            (provider_id, now, sms_id),
        )

    def record_dropped(self, sms_id: int, *, reason: str) -> None:
        """Not sent, for good: its send check said it no longer holds."""
        self.conn.execute(
            "UPDATE sms_outbox SET status = 'cancelled', last_error = %s, next_attempt_at = NULL"
            " WHERE id = %s",
            (reason, sms_id),
        )

    def record_failure(self, sms_id: int, *, error: str, retry_at: datetime | None) -> None:
        """A refused try: queued again for ``retry_at``, or failed for good when it is None."""
        self.conn.execute(
            "UPDATE sms_outbox SET status = %s, attempts = attempts + 1, last_error = %s,"
            " next_attempt_at = %s WHERE id = %s",
            (
                (OutboxStatus.QUEUED if retry_at else OutboxStatus.FAILED).value,
                error,
                retry_at,
                sms_id,
            ),
        )


class AsyncOutboxRepository:
    """The outbox on a request's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def enqueue(self, sms: NewSms, *, now: datetime) -> int | None:
        """As ``OutboxRepository.enqueue``."""
        statement = (
            insert(SmsOutbox)
            .values(**sms.__dict__, next_attempt_at=now, created_at=now)
            .on_conflict_do_nothing(index_elements=[SmsOutbox.dedup_key])
            .returning(SmsOutbox.id)
        )
        return await self.session.scalar(statement)

    async def cancel_queued(self, *, user_id: int, kind: str) -> None:
        await self.session.execute(
            update(SmsOutbox)
            .where(
                SmsOutbox.user_id == user_id,
                SmsOutbox.kind == kind,
                SmsOutbox.status == OutboxStatus.QUEUED,
            )
            .values(status=OutboxStatus.CANCELLED, next_attempt_at=None)
        )

    async def forget_recipient(self, *, user_id: int, phone: str | None) -> None:
        """Blank the number and text of every message to this person; unsent ones are cancelled.

        The rows stay (kind, status, dates) as the record that a message went out.
        """
        recipient = SmsOutbox.user_id == user_id
        if phone is not None:
            recipient = recipient | (SmsOutbox.phone == phone)
        await self.session.execute(
            update(SmsOutbox)
            .where(recipient, SmsOutbox.status == OutboxStatus.QUEUED)
            .values(status=OutboxStatus.CANCELLED, next_attempt_at=None)
        )
        await self.session.execute(
            update(SmsOutbox).where(recipient).values(phone="", text="", last_error=None)
        )
