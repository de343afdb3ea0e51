"""Closes and holds over HTTP."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from billing.close.models import BillingHold, HoldReason
from billing.close.service import CloseSummary

PERIOD = r"^\d{4}-\d{2}$"


class CloseIn(BaseModel):
    period: str = Field(pattern=PERIOD, description="The month to close, YYYY-MM.")
    zone_ids: list[int] | None = Field(
        None, max_length=1000, description="Only these zones; all when absent."
    )


class CloseOut(BaseModel):
    period_id: int
    period: str
    dwellings: int
    drafts: int
    subscription_only: int
    held: int
    regularisations: int

    @classmethod
    def of(cls, summary: CloseSummary) -> CloseOut:
        return cls(
            period_id=summary.period_id,
            period=summary.label,
            dwellings=summary.dwellings,
            drafts=summary.drafts,
            subscription_only=summary.subscription_only,
            held=summary.held,
            regularisations=summary.regularisations,
        )


class HoldOut(BaseModel):
    id: int
    period_id: int
    dwelling_id: int
    meter_id: int | None
    reason: HoldReason
    detail: str
    created_at: datetime
    released_at: datetime | None
    released_by: int | None

    @classmethod
    def of(cls, hold: BillingHold) -> HoldOut:
        return cls.model_validate(hold, from_attributes=True)
