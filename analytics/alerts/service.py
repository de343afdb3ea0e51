"""Customer SMS alerts: a confirmed incident texts the dwelling's occupants once, in their language.

Two steps, each safe to run from several processes at once:

1. ``queue_alerts`` (in the caller's transaction) claims the confirmed incidents nobody was told
   about (``analytics.service.claim_alerts``: still live an hour after opening, warning or
   critical) and queues one ``alert_delivery`` per current occupant; a unique key keeps it to one
   per incident and person.
2. ``send_due`` takes due deliveries one at a time under a row lock (``SKIP LOCKED``) and decides:
   cancelled (an operator closed the incident, or the account cannot be texted), muted (the
   customer muted the category), deferred (quiet hours or the daily cap, in the customer's local
   time: the SMS waits, it is never dropped), or sent; a failed send is retried with a doubling
   wait until ``max_attempts``. Each delivery is its own transaction, committed right after the
   provider answers, because a sent SMS cannot be rolled back.

A crash between the provider's answer and the commit re-sends that one SMS on the next run (at
least once); a row lock held across the call makes concurrent double sends impossible.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from analytics import service
from analytics.alerts_repository import AlertRepository, DueDelivery
from analytics.models import AlertStatus, IncidentKind, IncidentStatus
from core.config import AlertSettings
from core.models import Language
from core.sms import SmsDeliveryFailed, SmsProvider

logger = logging.getLogger(__name__)

# What happened, since when ({since}, local time), what to do. GSM-7 only (tests check it), so
# each is one 160-character segment or close to it.
TEMPLATES: dict[IncidentKind, dict[Language, str]] = {
    IncidentKind.LEAK: {
        Language.EN: "WaterBill: water keeps flowing at meter {serial} since {since}, even at"
        " night: a possible leak. Check taps, toilets and pipes.",
        Language.FR: "WaterBill: l'eau coule sans arret au compteur {serial} depuis le {since},"
        " meme la nuit: fuite probable. Verifiez robinets, WC et tuyaux.",
        Language.TPI: "WaterBill: wara i ran oltaim long mita {serial} kirap long {since}, long"
        " nait tu: ating i lik. Lukim ol tap, toilet na paip.",
    },
    IncidentKind.BURST: {
        Language.EN: "WaterBill: very high flow at meter {serial} since {since}: a burst pipe?"
        " Close the main valve and call a plumber.",
        Language.FR: "WaterBill: debit tres fort au compteur {serial} depuis le {since}: tuyau"
        " casse? Fermez la vanne principale et appelez un plombier.",
        Language.TPI: "WaterBill: planti wara i ran long mita {serial} kirap long {since}: paip"
        " i bruk? Pasim bikpela valv na singautim plamba.",
    },
    IncidentKind.BACKFLOW: {
        Language.EN: "WaterBill: water ran backwards through meter {serial} since {since}."
        " Please call us so we can check your connection.",
        Language.FR: "WaterBill: l'eau a circule a l'envers au compteur {serial} depuis le"
        " {since}. Appelez-nous pour verifier votre branchement.",
        Language.TPI: "WaterBill: wara i ran i go bek long mita {serial} kirap long {since}."
        " Plis singautim mipela long sekim paip bilong yu.",
    },
    IncidentKind.STUCK: {
        Language.EN: "WaterBill: meter {serial} shows no use since {since} though the home is"
        " occupied. It may be stuck; a technician will check it.",
        Language.FR: "WaterBill: le compteur {serial} n'indique aucune consommation depuis le"
        " {since}. Il est peut-etre bloque; un technicien passera.",
        Language.TPI: "WaterBill: mita {serial} i no soim wara kirap long {since}, tasol ol i"
        " stap long haus. Ating em i pas; teknisen bai kam sekim.",
    },
    IncidentKind.SILENT: {
        Language.EN: "WaterBill: meter {serial} has sent no data since {since}. Nothing to do;"
        " a technician will check it.",
        Language.FR: "WaterBill: le compteur {serial} n'envoie plus de donnees depuis le"
        " {since}. Rien a faire; un technicien va le verifier.",
        Language.TPI: "WaterBill: mita {serial} i no salim toktok kirap long {since}. Yu no"
        " ken wari; teknisen bai sekim.",
    },
    IncidentKind.TAMPER: {
        Language.EN: "WaterBill: meter {serial} reported tampering since {since}. If nobody"
        " touched it, please call us.",
        Language.FR: "WaterBill: le compteur {serial} signale une manipulation depuis le"
        " {since}. Si personne n'y a touche, appelez-nous.",
        Language.TPI: "WaterBill: mita {serial} i tok wanpela i bagarapim em kirap long"
        " {since}. Sapos nogat, plis singautim mipela.",
    },
    IncidentKind.DRY: {
        Language.EN: "WaterBill: meter {serial} finds no water in the pipe since {since}."
        " Check your supply valve; call us if it is open.",
        Language.FR: "WaterBill: le compteur {serial} ne voit plus d'eau depuis le {since}."
        " Verifiez votre vanne; appelez-nous si elle est ouverte.",
        Language.TPI: "WaterBill: mita {serial} i no painim wara long paip kirap long {since}."
        " Lukim valv; sapos em i op, singautim mipela.",
    },
    IncidentKind.LOW_BATTERY: {
        Language.EN: "WaterBill: the battery of meter {serial} is low since {since}. Nothing to"
        " do; a technician will replace it.",
        Language.FR: "WaterBill: la pile du compteur {serial} est faible depuis le {since}."
        " Rien a faire; un technicien la remplacera.",
        Language.TPI: "WaterBill: bateri bilong mita {serial} i laik dai kirap long {since}."
        " Yu no ken wari; teknisen bai senisim.",
    },
    IncidentKind.ABNORMAL: {
        Language.EN: "WaterBill: unusually high water use at meter {serial} since {since}."
        " Check for leaks or taps left running; it raises your bill.",
        Language.FR: "WaterBill: consommation inhabituelle au compteur {serial} depuis le"
        " {since}. Cherchez une fuite ou un robinet ouvert.",
        Language.TPI: "WaterBill: yu yusim planti wara tumas long mita {serial} kirap long"
        " {since}. Lukim lik o tap i op; bil bai go antap.",
    },
}
# A kind a newer detector added before it got its own words: still told, never stuck in the queue.
GENERIC: dict[Language, str] = {
    Language.EN: "WaterBill: something unusual ({kind}) at meter {serial} since {since}. Please"
    " call us if you need help.",
    Language.FR: "WaterBill: anomalie ({kind}) au compteur {serial} depuis le {since}."
    " Appelez-nous si besoin.",
    Language.TPI: "WaterBill: samting i no stret ({kind}) long mita {serial} kirap long {since}."
    " Singautim mipela sapos yu laik.",
}
# Every kind is a category a customer may mute.
CATEGORIES = tuple(kind.value for kind in IncidentKind)


def render_alert(kind: str, language: str, *, serial: str, since: datetime) -> str:
    """The SMS for an incident of ``kind`` since ``since`` (a local time), English by default."""
    templates = TEMPLATES.get(IncidentKind(kind), GENERIC) if kind in CATEGORIES else GENERIC
    text = templates.get(Language(language), templates[Language.EN])
    return text.format(kind=kind, serial=serial, since=since.strftime("%d/%m %H:%M"))


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

    def count(self, status: AlertStatus) -> int:
        return self.outcomes.get(status.value, 0)

    def __str__(self) -> str:
        done = ", ".join(f"{n} {status}" for status, n in sorted(self.outcomes.items()))
        return f"{self.claimed} incidents confirmed, {self.queued} SMS queued; {done or 'none due'}"


def queue_alerts(
    conn: psycopg.Connection[Any], *, now: datetime, options: AlertSettings
) -> tuple[int, int]:
    """Claim newly confirmed incidents and queue their SMS; returns (incidents, deliveries).

    Runs in the caller's transaction: the claim and the queue stand or fall together."""
    claimed = service.claim_alerts(
        conn, now=now, confirm_after=timedelta(seconds=options.confirm_after_s)
    )
    if not claimed:
        return 0, 0
    queued = AlertRepository(conn).queue([i.id for i in claimed], now=now)
    logger.info("alerts: %d incidents confirmed, %d SMS queued", len(claimed), queued)
    return len(claimed), queued


def send_due(
    conn: psycopg.Connection[Any],
    *,
    provider: SmsProvider,
    now: datetime,
    options: AlertSettings,
    limit: int = 1000,
) -> dict[str, int]:
    """Decide and send every delivery due by ``now`` (at most ``limit``); counts by outcome.

    ``conn`` must be in autocommit mode: each delivery is one transaction of its own."""
    repo = AlertRepository(conn)
    outcomes: dict[str, int] = {}
    for _ in range(limit):
        with conn.transaction():
            due = repo.next_due(now=now)
            if due is None:
                break
            status = _deliver(repo, due, provider=provider, now=now, options=options)
        outcomes[status.value] = outcomes.get(status.value, 0) + 1
    return outcomes


def run_alerts(
    conn: psycopg.Connection[Any],
    *,
    provider: SmsProvider,
    now: datetime,
    options: AlertSettings,
    limit: int = 1000,
) -> AlertReport:
    """Queue what was confirmed, then send what is due (``conn`` in autocommit mode)."""
    with conn.transaction():
        claimed, queued = queue_alerts(conn, now=now, options=options)
    outcomes = send_due(conn, provider=provider, now=now, options=options, limit=limit)
    return AlertReport(claimed=claimed, queued=queued, outcomes=outcomes)


def _deliver(
    repo: AlertRepository,
    due: DueDelivery,
    *,
    provider: SmsProvider,
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
    provider_id: str | None = None
    error: str | None = None
    try:
        provider_id = provider.send(due.phone, text)
    except SmsDeliveryFailed as exc:
        error = str(exc.__cause__ or exc)
    retry_at = None
    if error is not None and due.attempts + 1 < options.max_attempts:
        retry_at = now + timedelta(seconds=options.retry_s * 2**due.attempts)
    repo.attempted(
        due.id, text=text, now=now, provider_id=provider_id, error=error, retry_at=retry_at
    )
    if error is not None:
        logger.warning("alert SMS %d failed (attempt %d): %s", due.id, due.attempts + 1, error)
        return AlertStatus.FAILED
    return AlertStatus.SENT
