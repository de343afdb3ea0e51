"""Messages the ingest could not store: list them, re-process them, discard them.

No permission checks yet: the accounts branch adds them (operators only) when merged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.permissions import Permission
from api.auth.guards import require
from api.deps import SessionDep, SettingsDep
from api.errors import error_responses
from api.params import Limit, Offset
from core.orm import MAX_BIGINT_ID
from core.telemetry import QuarantineStatus
from ingest.decoder import Reason
from ingest.repository import IngestRepository, QuarantinedMessage
from ingest.service import Limits, reprocess

router = APIRouter(
    prefix="/quarantine",
    tags=["quarantine"],
    dependencies=[require(Permission.QUARANTINE_MANAGE)],
    responses=error_responses(401, 403),
)

MAX_IDS = 10_000
QuarantineId = Annotated[int, Field(ge=1, le=MAX_BIGINT_ID)]


class QuarantineItem(BaseModel):
    id: int
    received_at: datetime
    topic: str
    serial: str | None
    reason: str
    detail: str
    status: str
    resolved_at: datetime | None
    payload: str = Field(description="The raw payload, as UTF-8 with invalid bytes replaced.")
    payload_bytes: int

    @classmethod
    def of(cls, row: QuarantinedMessage) -> QuarantineItem:
        return cls(
            id=row.id,
            received_at=row.received_at,
            topic=row.topic,
            serial=row.serial,
            reason=row.reason,
            detail=row.detail,
            status=row.status,
            resolved_at=row.resolved_at,
            payload=bytes(row.payload).decode("utf-8", "replace"),
            payload_bytes=len(row.payload),
        )


class QuarantinePage(BaseModel):
    items: list[QuarantineItem]
    counts: dict[str, int] = Field(description="Messages per reason under the same filters.")


class ReprocessRequest(BaseModel):
    ids: list[QuarantineId] | None = Field(None, max_length=MAX_IDS, description="Quarantine ids.")
    reason: Reason | None = Field(None, description="Every open message with this reason.")

    @model_validator(mode="after")
    def _one_selector(self) -> ReprocessRequest:
        if not self.ids and self.reason is None:
            raise ValueError("give ids or a reason")
        return self


class ReprocessResponse(BaseModel):
    reprocessed: int = Field(description="Messages now stored.")
    still_open: dict[str, int] = Field(description="Messages still quarantined, by new reason.")


class DiscardRequest(BaseModel):
    ids: list[QuarantineId] = Field(min_length=1, max_length=MAX_IDS)


class DiscardResponse(BaseModel):
    discarded: int


async def _repository(session: AsyncSession) -> IngestRepository:
    """The ingest repository on the request's own connection and transaction."""
    connection = await session.connection()
    raw: Any = await connection.get_raw_connection()
    return IngestRepository(raw.driver_connection)


@router.get("", response_model=QuarantinePage)
async def list_quarantine(
    session: SessionDep,
    reason: Annotated[list[Reason] | None, Query(description="Only these reasons.")] = None,
    status: QuarantineStatus = QuarantineStatus.OPEN,
    serial: str | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> QuarantinePage:
    """Quarantined messages, oldest first, with counts by reason."""
    repo = await _repository(session)
    reasons = [r.value for r in reason] if reason else None
    rows = await repo.quarantined(
        reasons=reasons, status=status.value, serial=serial, limit=limit, offset=offset
    )
    counts = await repo.count_by_reason(status=status.value, serial=serial)
    return QuarantinePage(items=[QuarantineItem.of(row) for row in rows], counts=counts)


@router.post("/reprocess", response_model=ReprocessResponse)
async def reprocess_quarantine(
    body: ReprocessRequest, session: SessionDep, settings: SettingsDep
) -> ReprocessResponse:
    """Run open quarantined messages through the ingest again (e.g. after registering meters)."""
    limits = Limits.from_settings(settings)
    result = await reprocess(
        await _repository(session),
        ids=body.ids or None,
        reasons=[body.reason.value] if body.reason else None,
        limits=limits,
    )
    return ReprocessResponse(reprocessed=result.reprocessed, still_open=result.still_open)


@router.post("/discard", response_model=DiscardResponse)
async def discard_quarantine(body: DiscardRequest, session: SessionDep) -> DiscardResponse:
    """Close open quarantined messages without storing them."""
    return DiscardResponse(discarded=await (await _repository(session)).mark_discarded(body.ids))
