"""Request and response bodies of declared absences."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from core.orm import InYears
from registry.absences.models import AbsenceSource


class AbsenceIn(BaseModel):
    from_date: Annotated[date, InYears, Field(description="First day away (local date).")]
    to_date: Annotated[date, InYears, Field(description="Last day away, included.")]


class AbsenceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    dwelling_id: int
    from_date: date
    to_date: date
    source: AbsenceSource
    declared_by: int
    created_at: datetime
    cancelled_at: datetime | None
