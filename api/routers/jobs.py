"""The job queue as administrators see it: what ran, what waits, what failed and why; and a
failed job queued again."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from accounts.models import User
from accounts.permissions import Permission
from api.auth.deps import ClientIp
from api.auth.guards import require
from api.deps import JobsDep, SessionDep, SettingsDep
from api.errors import error_responses
from core import audit
from core.audit import AuditAction
from core.exceptions import NotFound
from core.orm import MAX_BIGINT_ID
from jobs import service as job_service
from jobs.repository import JobRepository
from jobs.schemas import Job, JobDetail, JobFailure, JobPage, JobStatus, RetryOut, ScheduledOut

router = APIRouter(
    prefix="/jobs",
    tags=["jobs"],
    dependencies=[require(Permission.JOBS_READ)],
    responses=error_responses(401, 403),
)

# procrastinate's job ids are bigserial.
JobId = Annotated[int, Path(ge=1, le=MAX_BIGINT_ID)]


@router.get("", response_model=JobPage)
async def list_jobs(
    session: SessionDep,
    status: JobStatus | None = None,
    task: Annotated[str | None, Query(max_length=128, description="Task name.")] = None,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_BIGINT_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> JobPage:
    """Jobs newest first: scheduled, running, done and failed."""
    rows = await JobRepository(session).list_jobs(
        status=status.value if status else None, task_name=task, before_id=before_id, limit=limit
    )
    return JobPage(
        items=[Job.of(row) for row in rows],
        next_before_id=rows[-1].id if len(rows) == limit else None,
    )


@router.get("/schedule", response_model=list[ScheduledOut])
async def schedule(settings: SettingsDep) -> list[ScheduledOut]:
    """The periodic tasks with their cron and next run, soonest first."""
    ahead = job_service.schedule_ahead(settings.jobs, now=datetime.now(UTC))
    return [ScheduledOut.of(s) for s in ahead]


@router.get("/{job_id}", response_model=JobDetail, responses=error_responses(404))
async def get_job(job_id: JobId, session: SessionDep) -> JobDetail:
    """One job, with the error of each failed attempt."""
    repository = JobRepository(session)
    row = await repository.get_job(job_id)
    if row is None:
        raise NotFound(f"no job with id {job_id}")
    failures = await repository.failures(job_id)
    return JobDetail(**Job.of(row).model_dump(), failures=[JobFailure.of(f) for f in failures])


@router.post(
    "/{job_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RetryOut,
    responses=error_responses(404, 409),
)
async def retry_job(
    job_id: JobId,
    session: SessionDep,
    jobs: JobsDep,
    user: Annotated[User, require(Permission.JOBS_RUN)],
    ip: ClientIp,
) -> RetryOut:
    """Queue a failed (or cancelled) job again; 409 for any other, or when the same work
    already waits."""
    retried = await job_service.retry_job(session, jobs, job_id=job_id)
    await audit.record(
        session,
        action=AuditAction.JOB_RETRIED,
        actor_id=user.id,
        ip=ip,
        target_type="job",
        target_id=job_id,
        detail={"job_id": retried.job_id},
    )
    return RetryOut.of(retried)
