"""Billing runs (administrators): close a period, issue its invoices, mark overdue ones, review
holds and approve regularisations. Every run is audited."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, status

from accounts.models import User
from accounts.permissions import Permission
from api.auth.deps import ClientIp
from api.auth.guards import require
from api.deps import JobsDep, SessionDep, SettingsDep
from api.errors import error_responses
from billing.close import service as close_service
from billing.close.period import parse_period
from billing.close.schemas import CloseIn, HoldOut
from billing.invoices import service as invoice_service
from billing.invoices.schemas import InvoiceOut, IssueIn, OverdueIn, OverdueOut
from core import audit
from core.audit import AuditAction
from core.orm import MAX_ID
from jobs import service as job_service
from jobs.schemas import CloseQueued, IssueQueued, ZoneJob

router = APIRouter(prefix="/billing", tags=["billing"], responses=error_responses(401, 403))

Admin = Annotated[User, require(Permission.BILLING_RUN)]
ObjectId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _now() -> datetime:
    """The request's instant: each country's calendar day follows from it (billing.invoices)."""
    return datetime.now(UTC)


async def _audit(session: SessionDep, user: User, ip: str | None, **detail: Any) -> None:
    await audit.record(
        session, action=AuditAction.BILLING_ACTION, actor_id=user.id, ip=ip, detail=detail
    )


@router.post(
    "/close",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=CloseQueued,
    responses=error_responses(404, 422),
)
async def close(
    body: CloseIn, session: SessionDep, jobs: JobsDep, user: Admin, ip: ClientIp
) -> CloseQueued:
    """Queue the drafting (again) of a month's invoices, one job per zone: follow each at
    `GET /jobs/{id}`. Safe to ask twice: a zone's close that still waits is not queued again."""
    period = parse_period(body.period)
    queued = await job_service.queue_closes(session, jobs, period=period, zone_ids=body.zone_ids)
    out = CloseQueued(period=period.label, jobs=[ZoneJob.of(q) for q in queued])
    await _audit(session, user, ip, event="close_queued", **out.model_dump())
    return out


@router.post(
    "/issue",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=IssueQueued,
    responses=error_responses(404, 409, 422),
)
async def issue(
    body: IssueIn,
    session: SessionDep,
    settings: SettingsDep,
    jobs: JobsDep,
    user: Admin,
    ip: ClientIp,
) -> IssueQueued:
    """Queue the issue of a month's drafts, one job per zone (gapless numbers per country and
    year; the new-invoice SMS go out once issued): follow each at `GET /jobs/{id}`. A zone's
    issue that still waits is not queued again."""
    period = parse_period(body.period)
    at = _now()
    await invoice_service.check_issue_grace(
        session,
        period=period,
        at=at,
        zone_ids=body.zone_ids,
        grace_days=settings.billing.grace_days,
        force=body.force,
    )
    queued = await job_service.queue_issues(
        session,
        jobs,
        period=period,
        zone_ids=body.zone_ids,
        at=at,
        force=body.force,
        issued_by=user.id,
    )
    out = IssueQueued(period=period.label, jobs=[ZoneJob.of(q) for q in queued])
    await _audit(session, user, ip, event="issue_queued", **out.model_dump())
    return out


@router.post("/overdue", response_model=OverdueOut)
async def overdue(body: OverdueIn, session: SessionDep, user: Admin, ip: ClientIp) -> OverdueOut:
    """Mark issued invoices past their due date overdue (the daily job does the same)."""
    count = await invoice_service.mark_overdue(session, at=_now(), today=body.today)
    await _audit(session, user, ip, event="overdue", count=count)
    return OverdueOut(overdue=count)


@router.get("/holds", response_model=list[HoldOut])
async def holds(session: SessionDep, _: Admin) -> list[HoldOut]:
    """Dwellings held back from billing, with why."""
    return [HoldOut.of(h) for h in await close_service.open_holds(session)]


@router.post(
    "/holds/{hold_id}/release", response_model=HoldOut, responses=error_responses(404, 409)
)
async def release_hold(
    hold_id: ObjectId, session: SessionDep, user: Admin, ip: ClientIp
) -> HoldOut:
    """Release a tamper hold after review: the next close bills the dwelling."""
    hold = await close_service.release_hold(session, hold_id=hold_id, admin_id=user.id)
    await _audit(session, user, ip, event="hold_released", hold_id=hold_id)
    return HoldOut.of(hold)


@router.get("/regularisations", response_model=list[InvoiceOut])
async def regularisations(session: SessionDep, _: Admin) -> list[InvoiceOut]:
    """Regularisations awaiting approval by two administrators."""
    return [InvoiceOut.of(i) for i in await invoice_service.pending_regularisations(session)]


@router.post(
    "/regularisations/{regularisation_id}/approve",
    response_model=InvoiceOut,
    responses=error_responses(404, 409),
)
async def approve(
    regularisation_id: ObjectId,
    session: SessionDep,
    settings: SettingsDep,
    user: Admin,
    ip: ClientIp,
) -> InvoiceOut:
    """Approve a regularisation; the second, different administrator's approval issues it."""
    invoice = await invoice_service.approve_regularisation(
        session,
        invoice_id=regularisation_id,
        admin_id=user.id,
        at=_now(),
        payment_days=settings.billing.payment_days,
    )
    await _audit(
        session,
        user,
        ip,
        event="regularisation_approved",
        invoice_id=regularisation_id,
        status=invoice.status.value,
    )
    return InvoiceOut.of(invoice)
