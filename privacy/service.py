"""GDPR: everything held about a person as JSON (art. 15 and 20), and erasure (art. 17).

Above the domains: a person's data lies in accounts, registry, analytics (alerts, consumption)
and billing (invoices, payments), and the SMS outbox of core.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from accounts import passwords
from accounts.models import User
from accounts.service import revoke_all
from accounts.staff import ensure_not_last_admin
from core import audit
from core.audit import AuditAction
from core.exceptions import PermissionDenied
from core.notifications import service as notifications
from privacy.repository import PrivacyRepository


def _row(obj: Any, *columns: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in columns:
        value = getattr(obj, name)
        out[name] = value.isoformat() if hasattr(value, "isoformat") else value
        if hasattr(value, "value"):
            out[name] = value.value
    return out


PROFILE_FIELDS = (
    "id",
    "phone",
    "first_name",
    "last_name",
    "language",
    "role",
    "is_active",
    "created_at",
    "updated_at",
    "last_login_at",
)


INVOICE_FIELDS = (
    "id",
    "number",
    "kind",
    "status",
    "dwelling_id",
    "currency",
    "volume_l",
    "net_minor",
    "vat_minor",
    "total_minor",
    "paid_minor",
    "issue_date",
    "due_date",
)
PAYMENT_FIELDS = (
    "id",
    "dwelling_id",
    "method",
    "status",
    "amount_minor",
    "currency",
    "reference",
    "received_at",
    "created_at",
)


async def export_user_data(session: AsyncSession, *, user: User, ip: str | None) -> dict[str, Any]:
    """Everything held about the user, as JSON-ready data (GDPR art. 15 and 20)."""
    repository = PrivacyRepository(session)
    occupancies = await repository.occupancies(user.id)
    managed = await repository.managed_buildings(user.id)
    absences = await repository.absences(user.id)
    rounds = await repository.rounds(user.id)
    sessions = await repository.refresh_tokens(user.id)
    sms = await repository.sends(user.phone)
    alerts = await repository.alert_deliveries(user.id)
    mutes = await repository.muted_alert_categories(user.id)
    trail = await repository.audit_trail(user.id)
    invoices = await repository.invoices(user.id)
    payments = await repository.payments(user.id)
    consumption = await repository.consumption(user.id)
    outbox = await repository.outbox(user_id=user.id, phone=user.phone)
    data = {
        "exported_at": datetime.now(UTC).isoformat(),
        "profile": _row(user, *PROFILE_FIELDS),
        "dwellings": [
            _row(o, "dwelling_id", "relation", "start_date", "end_date") for o in occupancies
        ],
        "absences_declared": [
            _row(a, "dwelling_id", "from_date", "to_date", "source", "created_at", "cancelled_at")
            for a in absences
        ],
        "managed_buildings": managed,
        "technician_rounds": [_row(r, "building_id", "meter_id") for r in rounds],
        "sessions": [_row(t, "issued_at", "expires_at", "revoked_at") for t in sessions],
        "sms_sent": [_row(s, "purpose", "delivered", "sent_at") for s in sms],
        "sms_messages": [
            _row(m, "kind", "phone", "text", "status", "created_at", "sent_at") for m in outbox
        ],
        "invoices": [
            {**_row(invoice, *INVOICE_FIELDS), "period": label} for invoice, label in invoices
        ],
        "payments": [_row(p, *PAYMENT_FIELDS) for p in payments],
        "consumption": [
            _row(d, "meter_id", "day", "volume_l", "has_estimate") for d in consumption
        ],
        "alerts": [_row(a, "incident_id", "status", "text", "sent_at") for a in alerts],
        "alerts_muted": mutes,
        "audit_trail": [
            {
                **_row(a, "at", "action", "target_type", "target_id", "detail"),
                "ip": None if a.ip is None else str(a.ip),
            }
            for a in trail
        ],
    }
    await audit.record(
        session,
        action=AuditAction.DATA_EXPORTED,
        actor_id=user.id,
        ip=ip,
        target_type="user",
        target_id=user.id,
    )
    return data


async def erase_user(session: AsyncSession, *, user: User, actor: User, ip: str | None) -> None:
    """Erase personal data (GDPR art. 17) but keep the row and its links.

    Invoices and payments must stay for 10 years (accounting law), so they keep pointing at this
    row and its dwellings; what identifies the person (phone, names, password, codes, sessions,
    SMS history) goes. The audit trail names people by id only and stays as it is.
    """
    await ensure_not_last_admin(session, user=user)
    phone = user.phone
    await revoke_all(session, user_id=user.id)
    await PrivacyRepository(session).delete_personal_traces(user_id=user.id, phone=phone)
    await notifications.forget_recipient(session, user_id=user.id, phone=phone)
    user.phone = None
    user.first_name = ""
    user.last_name = ""
    user.password_hash = ""
    user.is_active = False
    user.last_login_at = None
    user.erased_at = datetime.now(UTC)
    await session.flush()
    await audit.record(
        session,
        action=AuditAction.DATA_ERASED,
        actor_id=actor.id,
        ip=ip,
        target_type="user",
        target_id=user.id,
    )


async def erase_own_data(
    session: AsyncSession, *, user: User, password: str, ip: str | None
) -> None:
    """Erase one's own data, confirmed by the account's password."""
    if not passwords.verify_password(user.password_hash, password):
        raise PermissionDenied("the password is wrong")
    await erase_user(session, user=user, actor=user, ip=ip)
