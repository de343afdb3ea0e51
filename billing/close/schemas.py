"""Closes and holds over HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from billing.close.models import BillingHold, HoldReason
from core.orm import MAX_ID

PERIOD = r"^\d{4}-\d{2}$"


class CloseIn(BaseModel):
    period: str = Field(pattern=PERIOD, description="The month to close, YYYY-MM.")
    zone_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(
        None, max_length=1000, description="Only these zones; all when absent."
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
