"""Customer SMS alerts: a confirmed incident texts the dwelling's occupants once, in their language.

Two steps, each safe to run from several processes at once:

1. ``queue_alerts`` (in the caller's transaction) claims the confirmed incidents nobody was told
   about (``claim_alerts``: still live an hour after opening, warning or
   critical) and queues one ``alert_delivery`` per current occupant; a unique key keeps it to one
   per incident and person.
2. ``decide_due`` takes due deliveries one at a time under a row lock (``SKIP LOCKED``) and
   decides: cancelled (an operator closed the incident, or the account cannot be texted), muted
   (the customer muted the category), deferred (quiet hours or the daily cap, in the customer's
   local time: the SMS waits, it is never dropped), or sent: written to the SMS outbox in the
   same transaction, under a key naming the incident and customer.

``run_alerts`` does both, then drains the outbox (``core.notifications``), which owns sending,
retries and what a crash mid-send means.

The API side (async) reads and changes what a customer muted, and lists an incident's deliveries.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.alerts.messages import CATEGORIES, render_alert
from analytics.alerts.models import AlertStatus
from analytics.alerts.repository import (
    AlertRepository,
    CustomerAlertRepository,
    DeliveryRow,
    DueDelivery,
)
from analytics.incidents.models import IncidentStatus, Severity
from analytics.incidents.repository import IncidentRow
from core import audit
from core.config_analytics import AlertSettings
from core.exceptions import InvalidInput
from core.notifications import service as notifications
from core.notifications.repository import NewSms
from core.notifications.service import DrainReport, RetryPolicy
from core.sms import SmsProvider

logger = logging.getLogger(__name__)

MUTES_CHANGED = "alerts.mutes_changed"


def claim_alerts(
    conn: psycopg.Connection[Any],
    *,
    now: datetime,
    confirm_after: timedelta = timedelta(hours=1),
    severities: Sequence[Severity] = (Severity.WARNING, Severity.CRITICAL),
    limit: int = 500,
) -> list[IncidentRow]:
    """Incidents to tell customers about, each returned once ever (the SMS hook).

    An incident is confirmed when it is still live ``confirm_after`` its opening (a later scan
    did not resolve it); the caller sends the SMS in the customer's language within the same
    transaction, so a failed send rolls the claim back.
    """
    return AlertRepository(conn).claim_unnotified(
        severities=[s.value for s in severities],
        opened_before=now - confirm_after,
        limit=limit,
        now=now,
    )


def in_quiet_hours(clock: time, *, start: time, end: time) -> bool:
    """Whether a local clock time falls in ``[start, end)``, a window that may span midnight."""
    if start == end:
        return False
    if start < end:
        return start <= clock < end
    return clock >= start or clock < end


def first_allowed(local: datetime, *, start: time, end: time) -> datetime:
    """``local`` itself outside quiet hours, else the next local ``end`` after it."""
    if not in_quiet_hours(local.time(), start=start, end=end):
        return local
    tz = local.tzinfo
    candidate = datetime.combine(local.date(), end, tz)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), end, tz)
    return candidate


def local_midnight(local: datetime) -> datetime:
    return datetime.combine(local.date(), time(), local.tzinfo)


@dataclass
class AlertReport:
    claimed: int = 0
    queued: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    sms: DrainReport = field(default_factory=DrainReport)

    def count(self, status: AlertStatus) -> int:
        return self.outcomes.get(status.value, 0)

    def __str__(self) -> str:
        done = ", ".join(f"{n} {status}" for status, n in sorted(self.outcomes.items()))
        return (
            f"{self.claimed} incidents confirmed, {self.queued} SMS queued; {done or 'none due'};"
            f" outbox: {self.sms}"
        )


def queue_alerts(
    conn: psycopg.Connection[Any], *, now: datetime, options: AlertSettings
) -> tuple[int, int]:
    """Claim newly confirmed incidents and queue their SMS; returns (incidents, deliveries).

    Runs in the caller's transaction: the claim and the queue stand or fall together."""
    claimed = claim_alerts(conn, now=now, confirm_after=timedelta(seconds=options.confirm_after_s))
    if not claimed:
        return 0, 0
    queued = AlertRepository(conn).queue([i.id for i in claimed], now=now)
    logger.info("alerts: %d incidents confirmed, %d SMS queued", len(claimed), queued)
    return len(claimed), queued


def decide_due(
    conn: psycopg.Connection[Any], *, now: datetime, options: AlertSettings, limit: int = 1000
) -> dict[str, int]:
    """Decide every delivery due by ``now`` (at most ``limit``); counts by outcome.

    ``conn`` must be in autocommit mode: each delivery is one transaction of its own."""
    repo = AlertRepository(conn)
    outcomes: dict[str, int] = {}
    for _ in range(limit):
        with conn.transaction():
            due = repo.next_due(now=now)
            if due is None:
                break
            status = _decide(conn, repo, due, now=now, options=options)
        outcomes[status.value] = outcomes.get(status.value, 0) + 1
    return outcomes


def run_alerts(
    conn: psycopg.Connection[Any],
    *,
    provider: SmsProvider,
    policy: RetryPolicy,
    now: datetime,
    options: AlertSettings,
    limit: int = 1000,
) -> AlertReport:
    """Queue what was confirmed, decide what is due, then drain the SMS outbox (``conn`` in
    autocommit mode)."""
    with conn.transaction():
        claimed, queued = queue_alerts(conn, now=now, options=options)
    outcomes = decide_due(conn, now=now, options=options, limit=limit)
    sms = notifications.drain(conn, provider=provider, policy=policy, now=now, limit=limit)
    return AlertReport(claimed=claimed, queued=queued, outcomes=outcomes, sms=sms)


def _decide(
    conn: psycopg.Connection[Any],
    repo: AlertRepository,
    due: DueDelivery,
    *,
    now: datetime,
    options: AlertSettings,
) -> AlertStatus:
    if due.incident_status == IncidentStatus.CLOSED.value:
        repo.settle(due.id, status=AlertStatus.CANCELLED, now=now, error="incident closed")
        return AlertStatus.CANCELLED
    if not due.reachable or due.phone is None:
        repo.settle(
            due.id,
            status=AlertStatus.CANCELLED,
            now=now,
            error="the account is inactive, erased or has no phone",
        )
        return AlertStatus.CANCELLED
    if due.muted:
        repo.settle(due.id, status=AlertStatus.MUTED, now=now)
        return AlertStatus.MUTED
    tz = ZoneInfo(due.timezone)
    local = now.astimezone(tz)
    quiet = {"start": options.quiet_start, "end": options.quiet_end}
    allowed = first_allowed(local, **quiet)
    if allowed == local:
        repo.lock_user(due.user_id)
        if repo.sent_since(due.user_id, local_midnight(local)) >= options.daily_cap:
            tomorrow = datetime.combine(local.date() + timedelta(days=1), time(), tz)
            allowed = first_allowed(tomorrow, **quiet)
    if allowed != local:
        repo.settle(due.id, status=AlertStatus.DEFERRED, now=now, next_attempt_at=allowed)
        return AlertStatus.DEFERRED
    text = render_alert(
        due.category, due.language, serial=due.serial, since=due.started_at.astimezone(tz)
    )
    sms = NewSms(
        phone=due.phone,
        language=due.language,
        kind="alert",
        text=text,
        dedup_key=f"alert:{due.incident_id}:{due.user_id}",
        user_id=due.user_id,
    )
    outbox_id = notifications.enqueue(conn, sms, now=now)
    repo.handed_over(due.id, text=text, outbox_id=outbox_id, now=now)
    return AlertStatus.SENT


async def deliveries(session: AsyncSession, *, incident_id: int) -> list[DeliveryRow]:
    """The SMS sent (or waiting) about an incident: for the people who manage it."""
    return await CustomerAlertRepository(session).deliveries(incident_id)


async def muted_categories(session: AsyncSession, *, user_id: int) -> list[str]:
    return await CustomerAlertRepository(session).mutes(user_id)


async def set_muted_categories(
    session: AsyncSession, *, user_id: int, categories: Sequence[str], ip: str | None
) -> list[str]:
    """Replace what a customer muted.

    Raises:
        InvalidInput: a category that is not an incident kind.
    """
    unknown = sorted(set(categories) - set(CATEGORIES))
    if unknown:
        raise InvalidInput(f"unknown categories {unknown}; known: {', '.join(CATEGORIES)}")
    chosen = sorted(set(categories))
    repo = CustomerAlertRepository(session)
    if chosen != await repo.mutes(user_id):
        await repo.replace_mutes(user_id, chosen)
        await audit.record(
            session,
            action=MUTES_CHANGED,
            actor_id=user_id,
            ip=ip,
            target_type="user",
            target_id=user_id,
            detail={"muted": chosen},
        )
    return chosen
