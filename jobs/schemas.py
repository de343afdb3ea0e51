"""What ``GET /jobs`` and ``GET /jobs/{id}`` answer, and the 202 of work queued on request."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from jobs.repository import FailureRow, JobRow
from jobs.service import QueuedZoneJob, Retried, ScheduledTask


class JobStatus(StrEnum):
    """procrastinate's job states."""

    TODO = "todo"
    DOING = "doing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    ABORTED = "aborted"


class Progress(BaseModel):
    done: int = Field(description="Units done so far (a close: dwellings priced).")
    total: int = Field(description="Units in all.")


class Job(BaseModel):
    id: int
    task: str = Field(description="Task name, e.g. `scan` or `rollups`.")
    queue: str
    status: str = Field(description="todo, doing, succeeded, failed, cancelled or aborted.")
    attempts: int = Field(description="Attempts finished (a retry waiting in `todo` counts).")
    scheduled_at: datetime | None = Field(description="Not run before this instant.")
    deferred_at: datetime | None
    started_at: datetime | None = Field(description="Start of the latest attempt.")
    finished_at: datetime | None
    args: dict[str, Any]
    error: str | None = Field(description="The latest failed attempt's error, if any.")
    progress: Progress | None = Field(
        description="For long jobs that tell it (`close_zone`, `issue_zone`, `import_meters`)."
    )
    result: dict[str, Any] | None = Field(
        description="What the job answered once done: an issue's `issued` and `numbers`, an"
        " import's `created` and `existing`."
    )

    @classmethod
    def of(cls, row: JobRow) -> Job:
        return cls(
            id=row.id,
            task=row.task_name,
            queue=row.queue_name,
            status=row.status,
            attempts=row.attempts,
            scheduled_at=row.scheduled_at,
            deferred_at=row.deferred_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            args=row.args,
            error=row.last_error,
            progress=None
            if row.progress_total is None or row.progress_done is None
            else Progress(done=row.progress_done, total=row.progress_total),
            result=row.result,
        )


class JobFailure(BaseModel):
    attempt: int = Field(description="1 for the first run, 2 for the first retry, ...")
    error_type: str
    error: str
    failed_at: datetime

    @classmethod
    def of(cls, row: FailureRow) -> JobFailure:
        return cls(
            attempt=row.attempt,
            error_type=row.error_type,
            error=row.error,
            failed_at=row.failed_at,
        )


class JobDetail(Job):
    failures: list[JobFailure] = Field(description="Every failed attempt, oldest first.")


class JobPage(BaseModel):
    items: list[Job]
    next_before_id: int | None = Field(
        description="Pass as `before_id` for the next (older) page; none on the last page."
    )


class ZoneJob(BaseModel):
    zone_id: int
    job_id: int = Field(description="Follow it at `GET /jobs/{id}`.")
    already_queued: bool = Field(description="The zone's run was waiting already: that job.")

    @classmethod
    def of(cls, queued: QueuedZoneJob) -> ZoneJob:
        return cls(
            zone_id=queued.zone_id, job_id=queued.job_id, already_queued=queued.already_queued
        )


class CloseQueued(BaseModel):
    period: str
    jobs: list[ZoneJob] = Field(description="One close job per zone.")


class IssueQueued(BaseModel):
    period: str
    jobs: list[ZoneJob] = Field(
        description="One issue job per zone; each job's `result` gives its `issued` count and"
        " `numbers` (per country, the first and last number given)."
    )


class ImportQueued(BaseModel):
    job_id: int = Field(description="Follow it at `GET /jobs/{id}`; its `result` gives the counts.")
    meters: int = Field(description="Meter lines in the file, all checked.")


class RetryOut(BaseModel):
    job_id: int = Field(description="The job now waiting: the same one, or a new one.")
    retried_id: int = Field(description="The job asked for.")

    @classmethod
    def of(cls, retried: Retried) -> RetryOut:
        return cls(job_id=retried.job_id, retried_id=retried.retried_id)


class ScheduledOut(BaseModel):
    task: str
    cron: str = Field(description="When it runs (UTC): minute hour day-of-month month weekday.")
    next_at: datetime = Field(description="Its next run.")

    @classmethod
    def of(cls, scheduled: ScheduledTask) -> ScheduledOut:
        return cls(task=scheduled.task, cron=scheduled.cron, next_at=scheduled.next_at)
