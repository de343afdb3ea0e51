"""Anomalies, forecasts and alert preferences over HTTP."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field

from analytics.alerts.models import AlertStatus
from analytics.incidents.models import ACTIVE_STATUSES, IncidentKind, IncidentStatus, Severity
from analytics.incidents.repository import LocatedIncident
from analytics.incidents.service import BulkAction
from billing.invoices.estimate import InvoiceEstimate, MeterOutlook
from billing.tariffs.schemas import QuoteOut
from core.notifications.models import OutboxStatus
from core.orm import MAX_ID


class IncidentOut(BaseModel):
    id: int
    meter_id: int
    serial: str
    dwelling_id: int | None
    building_id: int | None
    zone_id: int | None
    kind: str
    severity: Severity
    status: IncidentStatus
    state: str = Field(description="`open` (open or acknowledged) or `closed`.")
    started_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None
    opened_at: datetime
    acknowledged_by: int | None
    acknowledged_at: datetime | None
    assigned_to: int | None = Field(description="The user who is to handle it.")
    assigned_at: datetime | None
    closed_by: int | None
    closed_at: datetime | None
    note: str

    @classmethod
    def of(cls, found: LocatedIncident, **extra: Any) -> Self:
        i = found.incident
        return cls(
            id=i.id,
            meter_id=i.meter_id,
            serial=found.serial,
            dwelling_id=found.dwelling_id,
            building_id=found.building_id,
            zone_id=found.zone_id,
            kind=i.kind,
            severity=i.severity,
            status=i.status,
            state="open" if i.status in ACTIVE_STATUSES else "closed",
            started_at=i.started_at,
            last_seen_at=i.last_seen_at,
            ended_at=i.ended_at,
            opened_at=i.opened_at,
            acknowledged_by=i.acknowledged_by,
            acknowledged_at=i.acknowledged_at,
            assigned_to=i.assigned_to,
            assigned_at=i.assigned_at,
            closed_by=i.closed_by,
            closed_at=i.closed_at,
            note=i.note,
            **extra,
        )


class IncidentPage(BaseModel):
    total: int
    items: list[IncidentOut]


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    user_id: int
    status: AlertStatus = Field(
        description="The alert's decision; `sent`: handed to the SMS outbox."
    )
    sms_status: OutboxStatus | None = Field(description="How the SMS fared in the outbox.")
    attempts: int
    next_attempt_at: datetime | None
    sent_at: datetime | None
    provider_id: str | None
    error: str | None


class IncidentDetail(IncidentOut):
    evidence: dict[str, Any] = Field(description="The numbers behind the finding.")
    deliveries: list[DeliveryOut] | None = Field(
        description="SMS to the dwelling's occupants (for those who manage incidents)."
    )


class CloseIn(BaseModel):
    note: str = Field(
        "",
        max_length=2000,
        description="Why it is closed; required while the condition is still ongoing.",
    )


class AssignIn(BaseModel):
    user_id: int | None = Field(
        ge=1, le=MAX_ID, description="An active administrator or technician; null: nobody."
    )


class AssigneeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: str


# A screenful of incidents: larger batches are paged by the client.
MAX_BULK = 200


class BulkIn(BaseModel):
    ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] = Field(min_length=1, max_length=MAX_BULK)
    action: BulkAction
    note: str = Field("", max_length=2000, description="action=resolve: why (see resolve).")
    user_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="action=assign: to whom (null: nobody)."
    )


class BulkRefusal(BaseModel):
    id: int
    error: str
    detail: str


class BulkOut(BaseModel):
    done: list[IncidentOut] = Field(description="Incidents the action applied to, as they are now.")
    refused: list[BulkRefusal] = Field(description="Incidents it refused, with why.")


class ForecastDay(BaseModel):
    day: date
    expected_l: int
    lower_l: int
    upper_l: int


class InvoiceEstimateOut(BaseModel):
    period_start: date
    period_end: date
    consumed_l: int = Field(description="Measured from the period's start to yesterday.")
    tariff_id: int
    currency: str
    total: Decimal = Field(description="Expected total, major units.")
    total_minor: int
    low_total_minor: int = Field(description="Total at the forecast interval's low end.")
    high_total_minor: int = Field(description="Total at the forecast interval's high end.")
    expected: QuoteOut = Field(description="The expected invoice, line by line.")

    @classmethod
    def of(cls, estimate: InvoiceEstimate) -> InvoiceEstimateOut:
        expected = estimate.expected
        return cls(
            period_start=estimate.period_start,
            period_end=estimate.period_end,
            consumed_l=estimate.consumed_l,
            tariff_id=estimate.tariff_id,
            currency=expected.currency.code,
            total=expected.total.amount,
            total_minor=expected.total.to_minor(),
            low_total_minor=estimate.low.total.to_minor(),
            high_total_minor=estimate.high.total.to_minor(),
            expected=QuoteOut.from_computation(expected),
        )


class ForecastOut(BaseModel):
    meter_id: int
    timezone: str
    coverage: float = Field(description="Probability the interval is meant to hold (0.8).")
    total_l: int
    days: list[ForecastDay]
    invoice: InvoiceEstimateOut | None
    invoice_unavailable: str | None = Field(description="Why there is no invoice estimate.")

    @classmethod
    def of(cls, outlook: MeterOutlook) -> ForecastOut:
        f = outlook.forecast
        return cls(
            meter_id=outlook.meter_id,
            timezone=outlook.timezone,
            coverage=f.coverage,
            total_l=f.total_l,
            days=[
                ForecastDay(
                    day=date.fromordinal(f.first_day.toordinal() + n),
                    expected_l=e,
                    lower_l=lo,
                    upper_l=hi,
                )
                for n, (e, lo, hi) in enumerate(
                    zip(f.expected_l, f.lower_l, f.upper_l, strict=True)
                )
            ],
            invoice=None if outlook.invoice is None else InvoiceEstimateOut.of(outlook.invoice),
            invoice_unavailable=outlook.invoice_unavailable,
        )


class AlertPreferences(BaseModel):
    muted: list[IncidentKind] = Field(
        max_length=len(IncidentKind), description="Incident kinds the user gets no SMS about."
    )
    categories: list[IncidentKind] = Field(
        default_factory=lambda: list(IncidentKind), description="Every category there is."
    )
