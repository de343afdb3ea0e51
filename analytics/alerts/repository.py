"""All SQL of the customer alerts.

``AlertRepository`` (psycopg, the alert job): claiming confirmed incidents, queueing deliveries,
taking the next due one under a row lock, counting a customer's day, recording the decision.
``CustomerAlertRepository`` (async session, the API): a customer's muted categories and the
deliveries of an incident."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.alerts.models import AlertDelivery, AlertMute, AlertStatus
from analytics.incidents.models import ACTIVE_STATUSES
from analytics.incidents.repository import IncidentRow
from core.notifications.models import OutboxStatus, SmsOutbox

_ACTIVE = [s.value for s in ACTIVE_STATUSES]
_WAITING = [AlertStatus.QUEUED.value, AlertStatus.DEFERRED.value]


@dataclass(frozen=True)
class DueDelivery:
    """A delivery whose time has come, with what deciding and writing the SMS needs."""

    id: int
    incident_id: int
    user_id: int
    category: str
    phone: str | None
    language: str
    reachable: bool
    muted: bool
    incident_status: str
    started_at: datetime
    serial: str
    timezone: str


class AlertRepository:
    """The alert job's SQL on its psycopg connection (one transaction per delivery)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def claim_unnotified(
        self, *, severities: Sequence[str], opened_before: datetime, limit: int, now: datetime
    ) -> list[IncidentRow]:
        """Live incidents nobody was told about yet, opened before ``opened_before``, marked
        notified (at the run's ``now``) in the same statement so that two alert jobs never send
        the same SMS."""
        with self.conn.cursor(row_factory=class_row(IncidentRow)) as cur:
            return cur.execute(
                """
                WITH due AS (
                    SELECT id FROM incident
                    WHERE notified_at IS NULL AND status::text = ANY(%(active)s)
                      AND severity::text = ANY(%(severities)s) AND opened_at <= %(before)s
                    ORDER BY opened_at
                    LIMIT %(limit)s
                    FOR UPDATE SKIP LOCKED
                )
                UPDATE incident i SET notified_at = %(now)s
                FROM due WHERE i.id = due.id
                RETURNING i.id, i.meter_id, i.kind, i.severity::text, i.status::text,
                          i.started_at, i.last_seen_at, i.ended_at, i.evidence, i.updated_at
                """,
                {
                    "active": _ACTIVE,
                    "severities": list(severities),
                    "before": opened_before,
                    "limit": limit,
                    "now": now,
                },
            ).fetchall()

    def queue(self, incident_ids: Sequence[int], *, now: datetime) -> int:
        """One queued delivery per incident and current occupant of the incident's dwelling;
        pairs already queued are left alone (the unique key makes this safe to repeat)."""
        cur = self.conn.execute(
            """
            INSERT INTO alert_delivery (incident_id, user_id, category, status, next_attempt_at,
                                        created_at, updated_at)
            SELECT DISTINCT i.id, o.user_id, i.kind, 'queued'::alert_status,
                   %(now)s, %(now)s, %(now)s
            FROM incident i
            JOIN meter m ON m.id = i.meter_id
            JOIN dwelling_occupant o ON o.dwelling_id = m.dwelling_id
            WHERE i.id = ANY(%(ids)s)
              AND o.start_date <= %(now)s::date
              AND (o.end_date IS NULL OR o.end_date >= %(now)s::date)
            ON CONFLICT (incident_id, user_id) DO NOTHING
            """,
            {"ids": list(incident_ids), "now": now},
        )
        return cur.rowcount

    def next_due(self, *, now: datetime) -> DueDelivery | None:
        """The oldest waiting delivery due by ``now``, locked until the transaction ends; rows
        another sender holds are skipped, so two senders never text the same delivery."""
        with self.conn.cursor(row_factory=class_row(DueDelivery)) as cur:
            return cur.execute(
                """
                SELECT d.id, d.incident_id, d.user_id, d.category, u.phone,
                       u.language::text AS language,
                       (u.is_active AND u.erased_at IS NULL AND u.phone IS NOT NULL) AS reachable,
                       EXISTS (SELECT 1 FROM alert_mute am
                               WHERE am.user_id = d.user_id AND am.category = d.category) AS muted,
                       i.status::text AS incident_status, i.started_at, m.serial, tz.timezone
                FROM alert_delivery d
                JOIN app_user u ON u.id = d.user_id
                JOIN incident i ON i.id = d.incident_id
                JOIN meter m ON m.id = i.meter_id
                -- Alerts go to a dwelling's occupants, so its zone decides (no default country).
                JOIN meter_timezone(NULL) tz ON tz.meter_id = m.id
                WHERE d.next_attempt_at <= %(now)s AND d.status::text = ANY(%(waiting)s)
                ORDER BY d.next_attempt_at, d.id
                LIMIT 1
                FOR UPDATE OF d SKIP LOCKED
                """,
                {"now": now, "waiting": _WAITING},
            ).fetchone()

    def lock_user(self, user_id: int) -> None:
        """Serialise the senders' decisions about one customer until the transaction ends, so
        that two of them cannot both see the daily cap not yet reached."""
        self.conn.execute("SELECT pg_advisory_xact_lock(hashtext('alert_user'), %s)", (user_id,))

    def sent_since(self, user_id: int, since: datetime) -> int:
        row = self.conn.execute(
            "SELECT count(*) FROM alert_delivery"
            " WHERE user_id = %s AND status = 'sent' AND sent_at >= %s",
            (user_id, since),
        ).fetchone()
        return int(row[0]) if row else 0

    def settle(
        self,
        delivery_id: int,
        *,
        status: AlertStatus,
        now: datetime,
        next_attempt_at: datetime | None = None,
        error: str | None = None,
    ) -> None:
        """A decision without a send attempt: deferred, muted or cancelled."""
        self.conn.execute(
            "UPDATE alert_delivery SET status = %s, next_attempt_at = %s, error = %s,"
            " updated_at = %s WHERE id = %s",
            (status.value, next_attempt_at, error, now, delivery_id),
        )

    def handed_over(
        self, delivery_id: int, *, text: str, outbox_id: int | None, now: datetime
    ) -> None:
        """The SMS is in the outbox (``outbox_id``): it counts against the customer's day."""
        self.conn.execute(
            "UPDATE alert_delivery SET status = 'sent', text = %s, outbox_id = %s,"
            " next_attempt_at = NULL, error = NULL, updated_at = %s, sent_at = %s WHERE id = %s",
            (text, outbox_id, now, now, delivery_id),
        )


@dataclass(frozen=True)
class DeliveryRow:
    """An incident's delivery with how its SMS fared in the outbox."""

    user_id: int
    status: AlertStatus
    next_attempt_at: datetime | None
    sent_at: datetime | None
    error: str | None
    sms_status: OutboxStatus | None
    attempts: int
    provider_id: str | None


class CustomerAlertRepository:
    """The API's reads and writes of a customer's alerts, on the request's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def deliveries(self, incident_id: int) -> list[DeliveryRow]:
        rows = await self.session.execute(
            select(
                AlertDelivery.user_id,
                AlertDelivery.status,
                AlertDelivery.next_attempt_at,
                AlertDelivery.sent_at,
                func.coalesce(SmsOutbox.last_error, AlertDelivery.error).label("error"),
                SmsOutbox.status.label("sms_status"),
                func.coalesce(SmsOutbox.attempts, 0).label("attempts"),
                SmsOutbox.provider_id,
            )
            .outerjoin(SmsOutbox, SmsOutbox.id == AlertDelivery.outbox_id)
            .where(AlertDelivery.incident_id == incident_id)
            .order_by(AlertDelivery.id)
        )
        return [DeliveryRow(**row._mapping) for row in rows]

    async def mutes(self, user_id: int) -> list[str]:
        rows = await self.session.scalars(
            select(AlertMute.category)
            .where(AlertMute.user_id == user_id)
            .order_by(AlertMute.category)
        )
        return list(rows)

    async def replace_mutes(self, user_id: int, categories: Sequence[str]) -> None:
        await self.session.execute(delete(AlertMute).where(AlertMute.user_id == user_id))
        if categories:
            await self.session.execute(
                insert(AlertMute), [{"user_id": user_id, "category": c} for c in categories]
            )
