"""Reports: monthly per building, collection and ageing, revenue per month, accounting export.

Managers see their buildings, admins everything; each report answers JSON, or CSV with
``?format=csv`` (the accounting export also XML, ``?format=xml``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from accounts import scope
from accounts.models import User
from accounts.permissions import Permission
from api.auth.guards import require
from api.deps import SessionDep, SettingsDep
from api.errors import error_responses
from api.params import PathId
from billing.reports import service as reports
from billing.reports.schemas import Collection, DwellingMonth, LedgerLine, RevenueMonth
from core.orm import InYears

router = APIRouter(prefix="/reports", tags=["reports"], responses=error_responses(401, 403, 422))


class Format(StrEnum):
    JSON = "json"
    CSV = "csv"


class ExportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    XML = "xml"


FormatQuery = Annotated[Format, Query(alias="format", description="json or csv")]
CSV_TOO: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}
EXPORT_FORMATS: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/xml": {"schema": {"type": "string"}},
        }
    }
}


def _answer(rows: list[Any], row_type: type[Any], fmt: Format | ExportFormat, name: str) -> Any:
    if fmt == "csv":
        return Response(
            reports.to_csv(rows, row_type),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return rows


async def _building_ids(session: AsyncSession, user: User) -> list[int] | None:
    ids = scope.building_ids(user)
    return None if ids is None else list(await session.scalars(ids))


def _today() -> date:
    return datetime.now(UTC).date()


@router.get(
    "/buildings/{building_id}/monthly",
    response_model=list[DwellingMonth],
    responses={**CSV_TOO, **error_responses(404)},
)
async def building_monthly(
    building_id: PathId,
    month: Annotated[date, InYears, Query(description="Any day of the month (2026-10-01).")],
    session: SessionDep,
    user: Annotated[User, require(Permission.REPORTS_BASIC)],
    fmt: FormatQuery = Format.JSON,
) -> Any:
    """Per dwelling of a building: consumption, billed, paid and unpaid for a month."""
    await scope.ensure_building(session, user=user, building_id=building_id)
    rows = await reports.building_month(session, building_id=building_id, month=month)
    return _answer(rows, DwellingMonth, fmt, f"building-{building_id}-{month:%Y-%m}")


@router.get("/collection", response_model=list[Collection], responses=CSV_TOO)
async def collection(
    session: SessionDep,
    user: Annotated[User, require(Permission.REPORTS_BASIC)],
    start: Annotated[date, InYears, Query(description="Invoices issued from this day...")],
    end: Annotated[date, InYears, Query(description="...to this day (included).")],
    as_of: Annotated[date | None, Query(description="Paid by this day; default today.")] = None,
    fmt: FormatQuery = Format.JSON,
) -> Any:
    """Collection rate and unpaid ageing (not due, 0-30, 31-60, 61-90, 90+ days) per currency."""
    rows = await reports.collection(
        session,
        building_ids=await _building_ids(session, user),
        start=start,
        end=end,
        as_of=as_of or _today(),
    )
    return _answer(rows, Collection, fmt, f"collection-{start}-{end}")


@router.get("/revenue", response_model=list[RevenueMonth], responses=CSV_TOO)
async def revenue(
    session: SessionDep,
    user: Annotated[User, require(Permission.REPORTS_BASIC)],
    start: Annotated[date, InYears, Query(description="First month (any day of it).")],
    end: Annotated[date, InYears, Query(description="Last month (any day of it).")],
    fmt: FormatQuery = Format.JSON,
) -> Any:
    """Billed (net, VAT, total, penalties) and collected amounts per month and currency."""
    rows = await reports.revenue(
        session, building_ids=await _building_ids(session, user), start=start, end=end
    )
    return _answer(rows, RevenueMonth, fmt, f"revenue-{start:%Y-%m}-{end:%Y-%m}")


@router.get("/accounting-export", response_model=list[LedgerLine], responses=EXPORT_FORMATS)
async def accounting_export(
    session: SessionDep,
    settings: SettingsDep,
    _: Annotated[User, require(Permission.REPORTS_FULL)],
    start: Annotated[date, InYears, Query(description="First day (included).")],
    end: Annotated[date, InYears, Query(description="Last day (included).")],
    fmt: Annotated[ExportFormat, Query(alias="format")] = ExportFormat.JSON,
) -> Any:
    """Journal lines (one per invoice, approved penalty and payment) with account codes."""
    lines = await reports.accounting_export(
        session, building_ids=None, start=start, end=end, accounts=settings.accounting
    )
    if fmt is ExportFormat.XML:
        return Response(
            reports.ledger_xml(lines, start=start, end=end),
            media_type="application/xml",
            headers={"Content-Disposition": f'attachment; filename="ledger-{start}-{end}.xml"'},
        )
    return _answer(lines, LedgerLine, fmt, f"ledger-{start}-{end}")
