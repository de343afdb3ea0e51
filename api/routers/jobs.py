"""The job queue as administrators see it: what ran, what waits, what failed and why."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from accounts.permissions import Permission
from api.auth.guards import require
from api.deps import SessionDep
from api.errors import error_responses
from core.exceptions import NotFound
from core.orm import MAX_BIGINT_ID
from jobs.repository import JobRepository
from jobs.schemas import Job, JobDetail, JobFailure, JobPage, JobStatus

router = APIRouter(
    prefix="/jobs",
    tags=["jobs"],
    dependencies=[require(Permission.JOBS_READ)],
    responses=error_responses(401, 403),
)


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


@router.get("/{job_id}", response_model=JobDetail, responses=error_responses(404))
async def get_job(
    job_id: Annotated[int, Path(ge=1, le=MAX_BIGINT_ID)], session: SessionDep
) -> JobDetail:
    """One job, with the error of each failed attempt."""
    repository = JobRepository(session)
    row = await repository.get_job(job_id)
    if row is None:
        raise NotFound(f"no job with id {job_id}")
    failures = await repository.failures(job_id)
    return JobDetail(**Job.of(row).model_dump(), failures=[JobFailure.of(f) for f in failures])
