"""All SQL of the GDPR export and erasure: what is held about one person across the schema.

It sits above the domains (accounts, registry, analytics, billing) because a person's data lives in
all of them; nothing below imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts import scope
from accounts.models import RefreshToken, SmsCode, SmsSendLog
from analytics.alerts.models import AlertDelivery, AlertMute
from billing.close.models import BillingPeriod
from billing.invoices.models import Invoice, InvoiceStatus
from billing.payments.models import Payment, PaymentAllocation
from core.audit import AuditLog
from core.notifications.models import SmsOutbox
from core.telemetry import MeterDaily
from registry.absences.models import DwellingAbsence
from registry.models import BuildingManager, DwellingOccupant, Meter, TechnicianAssignment


class PrivacyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def occupancies(self, user_id: int) -> Sequence[DwellingOccupant]:
        return (
            await self.session.scalars(
                select(DwellingOccupant).where(DwellingOccupant.user_id == user_id)
            )
        ).all()

    async def absences(self, user_id: int) -> Sequence[DwellingAbsence]:
        """The absences the person declared (when they were away is theirs to know)."""
        statement = select(DwellingAbsence).where(DwellingAbsence.declared_by == user_id)
        return (await self.session.scalars(statement.order_by(DwellingAbsence.id))).all()

    async def managed_buildings(self, user_id: int) -> list[int]:
        return list(
            await self.session.scalars(
                select(BuildingManager.building_id).where(BuildingManager.user_id == user_id)
            )
        )

    async def rounds(self, technician_id: int) -> Sequence[TechnicianAssignment]:
        return (
            await self.session.scalars(
                select(TechnicianAssignment).where(
                    TechnicianAssignment.technician_id == technician_id
                )
            )
        ).all()

    async def refresh_tokens(self, user_id: int) -> Sequence[RefreshToken]:
        return (
            await self.session.scalars(
                select(RefreshToken)
                .where(RefreshToken.user_id == user_id)
                .order_by(RefreshToken.issued_at)
            )
        ).all()

    async def sends(self, phone: str | None) -> Sequence[SmsSendLog]:
        return (
            await self.session.scalars(
                select(SmsSendLog).where(SmsSendLog.phone == phone).order_by(SmsSendLog.sent_at)
            )
        ).all()

    async def alert_deliveries(self, user_id: int) -> Sequence[AlertDelivery]:
        return (
            await self.session.scalars(
                select(AlertDelivery)
                .where(AlertDelivery.user_id == user_id)
                .order_by(AlertDelivery.id)
            )
        ).all()

    async def muted_alert_categories(self, user_id: int) -> list[str]:
        return list(
            await self.session.scalars(
                select(AlertMute.category)
                .where(AlertMute.user_id == user_id)
                .order_by(AlertMute.category)
            )
        )

    async def audit_trail(self, user_id: int) -> Sequence[AuditLog]:
        """Entries the user made or that name the user as their target, oldest first."""
        return (
            await self.session.scalars(
                select(AuditLog)
                .where(
                    or_(
                        AuditLog.actor_id == user_id,
                        (AuditLog.target_type == "user") & (AuditLog.target_id == str(user_id)),
                    )
                )
                .order_by(AuditLog.id)
            )
        ).all()

    async def invoices(self, user_id: int) -> Sequence[Any]:
        """Issued invoices billed to the person (drafts are no documents yet), with their period."""
        rows = await self.session.execute(
            select(Invoice, BillingPeriod.label)
            .join(BillingPeriod, BillingPeriod.id == Invoice.period_id)
            .where(Invoice.customer_id == user_id, Invoice.status != InvoiceStatus.DRAFT)
            .order_by(Invoice.id)
        )
        return rows.all()

    async def payments(self, user_id: int) -> Sequence[Payment]:
        """Payments of the person's invoices, or made for a dwelling while they occupied it."""
        made_at = func.coalesce(Payment.received_at, Payment.created_at)
        settles = (
            select(PaymentAllocation.payment_id)
            .join(Invoice, Invoice.id == PaymentAllocation.invoice_id)
            .where(Invoice.customer_id == user_id)
        )
        during = scope.occupied_at(user_id, Payment.dwelling_id, made_at)
        return (
            await self.session.scalars(
                select(Payment).where(or_(Payment.id.in_(settles), during)).order_by(Payment.id)
            )
        ).all()

    async def consumption(self, user_id: int) -> Sequence[MeterDaily]:
        """Daily volumes of the meters of the person's dwellings, on the days they lived there."""
        held = scope.occupancy_periods(user_id).subquery("held")
        return (
            await self.session.scalars(
                select(MeterDaily)
                .join(Meter, Meter.id == MeterDaily.meter_id)
                .join(held, held.c.dwelling_id == Meter.dwelling_id)
                .where(
                    MeterDaily.day >= held.c.from_date,
                    held.c.until_date.is_(None) | (MeterDaily.day < held.c.until_date),
                )
                .order_by(MeterDaily.meter_id, MeterDaily.day)
            )
        ).all()

    async def outbox(self, *, user_id: int, phone: str | None) -> Sequence[SmsOutbox]:
        """Every SMS to the person (codes, alerts, invoices, reminders, receipts), oldest first."""
        recipient = SmsOutbox.user_id == user_id
        if phone is not None:
            recipient = recipient | (SmsOutbox.phone == phone)
        return (
            await self.session.scalars(select(SmsOutbox).where(recipient).order_by(SmsOutbox.id))
        ).all()

    async def delete_personal_traces(self, *, user_id: int, phone: str | None) -> None:
        """Delete the user's codes, code SMS log and alert history and preferences."""
        await self.session.execute(delete(SmsCode).where(SmsCode.user_id == user_id))
        if phone is not None:
            await self.session.execute(delete(SmsSendLog).where(SmsSendLog.phone == phone))
        await self.session.execute(delete(AlertDelivery).where(AlertDelivery.user_id == user_id))
        await self.session.execute(delete(AlertMute).where(AlertMute.user_id == user_id))
