"""Billing SMS: new invoice, reminder before the due date, payment received; each decided once.

A reminder is checked again when it goes out (``INVOICE_UNPAID``, the outbox's send check): an
invoice paid between the queueing and the send gets no "please pay".

Once is a row: every notice is *claimed* by inserting ``billing_notice`` (unique per kind and
invoice or payment), and in the same transaction its SMS goes into the outbox
(``core.notifications``), which sends and retries it after the commit. Who is due is found
set-based, per kind, in one query.

Texts are in the recipient's language (en, fr, tpi) with amounts formatted as that language
writes them. SMS stay in GSM-7 (one 160-character segment is one charge), so the no-break
spaces of the French money format become plain spaces and the templates carry no accents.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from billing.payments.models import NoticeKind, NoticeStatus
from billing.payments.repository import OWED
from core.config_billing import BillingSettings, ChannelKind, UtilityIdentity
from core.countries import Language
from core.money import NBSP, NNBSP, Money, get_currency
from core.notifications import service as notifications
from core.notifications.repository import NewSms

logger = logging.getLogger(__name__)

TEMPLATES: dict[NoticeKind, dict[Language, str]] = {
    NoticeKind.INVOICE_ISSUED: {
        Language.EN: "WaterBill: invoice {number} of {amount} is ready, due {due}. Pay by"
        " {methods}.",
        Language.FR: "WaterBill: votre facture {number} de {amount} est disponible, a payer"
        " avant le {due}. {methods}.",
        Language.TPI: "WaterBill: bil {number} bilong {amount} i redi, pe pastaim long {due}."
        " Pe long {methods}.",
    },
    NoticeKind.DUE_REMINDER: {
        Language.EN: "WaterBill reminder: {amount} is still due on invoice {number} by {due}."
        " Pay by {methods}.",
        Language.FR: "Rappel WaterBill: {amount} reste du sur la facture {number} avant le"
        " {due}. {methods}.",
        Language.TPI: "WaterBill tok save: {amount} i stap yet long bil {number}, pe pastaim"
        " long {due}. Pe long {methods}.",
    },
    NoticeKind.PAYMENT_RECEIVED: {
        Language.EN: "WaterBill: payment of {amount} received, ref {reference}. Thank you."
        " Still due: {balance}.{credit}",
        Language.FR: "WaterBill: paiement de {amount} recu, ref {reference}. Merci."
        " Reste du: {balance}.{credit}",
        Language.TPI: "WaterBill: mipela kisim pe bilong {amount}, ref {reference}. Tenkyu."
        " Moni i stap yet: {balance}.{credit}",
    },
}

# An overpayment's rest on the receipt: credit the next invoice takes (none: nothing written).
CREDIT_WORDS: dict[Language, str] = {
    Language.EN: " Credit: {credit}.",
    Language.FR: " Avoir: {credit}.",
    Language.TPI: " Moni bilong nekis bil: {credit}.",
}

# A channel without an operator's name, in the SMS's words (GSM-7: no accents).
CHANNEL_WORDS: dict[Language, dict[ChannelKind, str]] = {
    Language.EN: {
        ChannelKind.MOBILE_MONEY: "mobile money",
        ChannelKind.BANK_TRANSFER: "bank transfer",
        ChannelKind.CASH: "cash at an agent",
        ChannelKind.CARD: "card",
    },
    Language.FR: {
        ChannelKind.MOBILE_MONEY: "mobile money",
        ChannelKind.BANK_TRANSFER: "virement",
        ChannelKind.CASH: "especes chez un agent",
        ChannelKind.CARD: "carte",
    },
    Language.TPI: {
        ChannelKind.MOBILE_MONEY: "mobail mani",
        ChannelKind.BANK_TRANSFER: "beng",
        ChannelKind.CASH: "kes long ejen",
        ChannelKind.CARD: "kad",
    },
}


def payment_methods(utility: UtilityIdentity, language: Language) -> str:
    """The country's ways to pay, by the names its customers know (its own operators only)."""
    words = CHANNEL_WORDS[language]
    return (
        ", ".join(c.operator or words[c.kind] for c in utility.channels) or words[ChannelKind.CASH]
    )


# A new-invoice SMS after the due date, or a receipt days late, would confuse more than help:
# a first run on an old database does not flood customers with history.
RECEIPT_WINDOW_DAYS = 3

_NOT_CLAIMED = (
    "NOT EXISTS (SELECT 1 FROM billing_notice n WHERE n.kind = '{kind}'"
    " AND n.subject_id = {subject})"
)
# The person billed on an invoice, else the dwelling's current tenant, else its owner.
_RECIPIENT = """
LEFT JOIN LATERAL (
    SELECT u.id AS user_id, u.phone, u.language::text AS language FROM app_user u
    LEFT JOIN dwelling_occupant o ON o.user_id = u.id AND o.dwelling_id = {dwelling}
         AND o.start_date <= current_date AND (o.end_date IS NULL OR o.end_date >= current_date)
    WHERE u.phone IS NOT NULL AND u.erased_at IS NULL
      AND (u.id = {customer} OR o.id IS NOT NULL)
    ORDER BY u.id = {customer} DESC, o.relation = 'tenant' DESC, o.start_date DESC
    LIMIT 1
) r ON true
"""

_DUE_QUERIES: dict[NoticeKind, str] = {
    NoticeKind.INVOICE_ISSUED: f"""
        SELECT i.id AS subject_id, r.user_id, r.phone,
               COALESCE(r.language, c.language::text) AS language,
               i.number, i.total_minor AS amount_minor, i.currency, i.due_date,
               NULL::text AS reference, 0::bigint AS balance_minor, 0::bigint AS credit_minor,
               c.code AS country_code
        FROM invoice i JOIN country c ON c.code = i.country_code
        {_RECIPIENT.format(dwelling="i.dwelling_id", customer="i.customer_id")}
        WHERE i.status IN ('issued', 'partially_paid', 'paid') AND i.due_date >= :today
          AND {_NOT_CLAIMED.format(kind="invoice_issued", subject="i.id")}
    """,
    NoticeKind.DUE_REMINDER: f"""
        SELECT i.id AS subject_id, r.user_id, r.phone,
               COALESCE(r.language, c.language::text) AS language,
               i.number, {OWED} - i.paid_minor AS amount_minor, i.currency, i.due_date,
               NULL::text AS reference, 0::bigint AS balance_minor, 0::bigint AS credit_minor,
               c.code AS country_code
        FROM invoice i JOIN country c ON c.code = i.country_code
        {_RECIPIENT.format(dwelling="i.dwelling_id", customer="i.customer_id")}
        WHERE i.status IN ('issued', 'partially_paid')
          AND i.due_date BETWEEN :today AND :today + :reminder_days
          AND {OWED} > i.paid_minor
          AND {_NOT_CLAIMED.format(kind="due_reminder", subject="i.id")}
    """,
    NoticeKind.PAYMENT_RECEIVED: f"""
        SELECT p.id AS subject_id, r.user_id, r.phone,
               COALESCE(r.language, c.language::text) AS language,
               NULL::text AS number, p.amount_minor, p.currency, NULL::date AS due_date,
               p.reference,
               (SELECT COALESCE(sum({OWED} - i.paid_minor), 0) FROM invoice i
                WHERE i.dwelling_id = p.dwelling_id
                  AND i.status IN ('issued', 'partially_paid', 'overdue')) AS balance_minor,
               (SELECT COALESCE(sum(c.amount_minor - c.allocated_minor), 0) FROM payment c
                WHERE c.dwelling_id = p.dwelling_id AND c.status = 'succeeded') AS credit_minor,
               c.code AS country_code
        FROM payment p
        JOIN dwelling d ON d.id = p.dwelling_id JOIN building b ON b.id = d.building_id
        JOIN zone z ON z.id = b.zone_id JOIN country c ON c.code = z.country_code
        {_RECIPIENT.format(dwelling="p.dwelling_id", customer="NULL::integer")}
        WHERE p.status = 'succeeded'
          AND p.received_at >= now() - make_interval(days => {RECEIPT_WINDOW_DAYS})
          AND {_NOT_CLAIMED.format(kind="payment_received", subject="p.id")}
    """,
}

_CLAIM = """
INSERT INTO billing_notice (kind, subject_id, status)
VALUES (:kind, :subject_id, CAST(:status AS notice_status))
ON CONFLICT (kind, subject_id) DO NOTHING
RETURNING id
"""


def _sms_safe(value: str) -> str:
    return value.replace(NNBSP, " ").replace(NBSP, " ")


def render_notice(kind: NoticeKind, language: str, row: Any, utility: UtilityIdentity) -> str:
    """The SMS text of a notice row in ``language`` (English when it has none), with the ways to
    pay of the invoice's country (``utility``)."""
    lang = Language(language) if language in set(Language) else Language.EN
    currency = get_currency(row.currency)

    def money(minor: int) -> str:
        return _sms_safe(Money.from_minor(int(minor), currency).format(lang.value))

    due: date | None = row.due_date
    return TEMPLATES[kind][lang].format(
        number=row.number,
        amount=money(row.amount_minor),
        due=due.strftime("%d/%m/%Y") if due else "",
        reference=row.reference,
        balance=money(row.balance_minor),
        credit=CREDIT_WORDS[lang].format(credit=money(row.credit_minor))
        if row.credit_minor
        else "",
        methods=payment_methods(utility, lang),
    )


# The reminder's send check: the invoice still owes something when the SMS goes out. FOR SHARE:
# a payment allocated to it meanwhile waits for the send to be recorded, so the two never cross
# (a payment committed first drops the reminder; one committed after it is after the send).
INVOICE_UNPAID = "invoice_unpaid"
_STILL_OWED = f"""
SELECT i.status IN ('issued', 'partially_paid', 'overdue') AND {OWED} > i.paid_minor
FROM invoice i WHERE i.id = %s FOR SHARE OF i
"""


def _invoice_unpaid(conn: psycopg.Connection[Any], invoice_id: int) -> bool:
    row = conn.execute(_STILL_OWED, (invoice_id,)).fetchone()
    return bool(row and row[0])


notifications.register_send_check(INVOICE_UNPAID, _invoice_unpaid)


@dataclass
class NoticeResult:
    claimed: int = 0
    no_recipient: int = 0
    outbox_ids: list[int] = field(default_factory=list)


async def queue_due_notices(
    session: AsyncSession,
    *,
    today: date,
    reminder_days: int,
    now: datetime,
    billing: BillingSettings,
    kinds: tuple[NoticeKind, ...] = tuple(NoticeKind),
) -> NoticeResult:
    """Claim every notice now due and queue its SMS, in the caller's transaction (module
    docstring); the caller drains ``outbox_ids`` after the commit."""
    result = NoticeResult()
    for kind in kinds:
        rows = await session.execute(
            text(_DUE_QUERIES[kind]), {"today": today, "reminder_days": reminder_days}
        )
        for row in rows.all():
            status = NoticeStatus.CLAIMED if row.phone else NoticeStatus.NO_RECIPIENT
            claim = await session.scalar(
                text(_CLAIM),
                {"kind": kind.value, "subject_id": row.subject_id, "status": status.value},
            )
            if claim is None:
                continue
            result.claimed += 1
            if not row.phone:
                result.no_recipient += 1
                continue
            reminder = kind is NoticeKind.DUE_REMINDER
            sms = NewSms(
                phone=row.phone,
                language=row.language,
                kind=kind.value,
                text=render_notice(kind, row.language, row, billing.utility(row.country_code)),
                dedup_key=f"billing_notice:{kind.value}:{row.subject_id}",
                user_id=row.user_id,
                send_check=INVOICE_UNPAID if reminder else None,
                send_check_id=row.subject_id if reminder else None,
            )
            outbox_id = await notifications.enqueue_async(session, sms, now=now)
            if outbox_id is not None:
                result.outbox_ids.append(outbox_id)
                await session.execute(
                    text("UPDATE billing_notice SET outbox_id = :o WHERE id = :id"),
                    {"o": outbox_id, "id": claim},
                )
    logger.info(
        "billing notices: %d claimed, %d queued, %d without recipient",
        result.claimed,
        len(result.outbox_ids),
        result.no_recipient,
    )
    return result


async def queue_receipts(
    session: AsyncSession,
    *,
    today: date,
    reminder_days: int,
    now: datetime,
    billing: BillingSettings,
) -> NoticeResult:
    """The payment-received SMS of committed payments (each claimed once, whoever queues first)."""
    return await queue_due_notices(
        session,
        today=today,
        reminder_days=reminder_days,
        now=now,
        billing=billing,
        kinds=(NoticeKind.PAYMENT_RECEIVED,),
    )
