"""All SQL of the job system: procrastinate's job tables read for the API, our failure log.

Job state lives in procrastinate's tables (``procrastinate_jobs``, its ``procrastinate_events``
for when a job was deferred, started and ended); the error of each failed attempt lives in
``job_failure`` (jobs.models), written by the worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from procrastinate.connector import BaseConnector
from psycopg.types.json import Jsonb
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_JOBS = """
SELECT j.id, j.task_name, j.queue_name, j.status::text AS status, j.attempts, j.scheduled_at,
       j.args,
       (SELECT min(e.at) FROM procrastinate_events e
         WHERE e.job_id = j.id AND e.type = 'deferred') AS deferred_at,
       (SELECT max(e.at) FROM procrastinate_events e
         WHERE e.job_id = j.id AND e.type = 'started') AS started_at,
       (SELECT max(e.at) FROM procrastinate_events e
         WHERE e.job_id = j.id AND e.type IN ('succeeded', 'failed', 'cancelled', 'aborted'))
         AS finished_at,
       (SELECT f.error_type || ': ' || f.error FROM job_failure f
         WHERE f.job_id = j.id ORDER BY f.attempt DESC, f.id DESC LIMIT 1) AS last_error,
       p.done AS progress_done, p.total AS progress_total, p.result
FROM procrastinate_jobs j
LEFT JOIN job_progress p ON p.job_id = j.id
"""

_WRITE_PROGRESS = """
INSERT INTO job_progress (job_id, done, total) VALUES (%(job_id)s, %(done)s, %(total)s)
ON CONFLICT (job_id) DO UPDATE
SET done = EXCLUDED.done, total = EXCLUDED.total, updated_at = now()
"""

_WRITE_RESULT = """
INSERT INTO job_progress (job_id, done, total, result)
VALUES (%(job_id)s, %(done)s, %(total)s, %(result)s)
ON CONFLICT (job_id) DO UPDATE
SET done = EXCLUDED.done, total = EXCLUDED.total, result = EXCLUDED.result, updated_at = now()
"""

_RECORD_FAILURE = """
INSERT INTO job_failure (job_id, attempt, error_type, error)
VALUES (%(job_id)s, %(attempt)s, %(error_type)s, %(error)s)
"""

# The error text kept per attempt: enough for a stack's last message, bounded for huge ones.
MAX_ERROR_CHARS = 4000


@dataclass(frozen=True)
class JobRow:
    id: int
    task_name: str
    queue_name: str
    status: str
    attempts: int
    scheduled_at: datetime | None
    args: dict[str, Any]
    deferred_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    last_error: str | None
    progress_done: int | None
    progress_total: int | None
    result: dict[str, Any] | None


@dataclass(frozen=True)
class RetryTarget:
    """What queueing a job again needs: its state, and its task, arguments and locks."""

    id: int
    status: str
    task_name: str
    queue_name: str
    args: dict[str, Any]
    lock: str | None
    queueing_lock: str | None


@dataclass(frozen=True)
class FailureRow:
    attempt: int
    error_type: str
    error: str
    failed_at: datetime


class JobRepository:
    """Reads of the job tables, in the caller's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def list_jobs(
        self, *, status: str | None, task_name: str | None, before_id: int | None, limit: int
    ) -> list[JobRow]:
        """Newest first; ``before_id`` pages on (the id of the last job of the previous page)."""
        result = await self.session.execute(
            text(
                _JOBS
                + """
                WHERE (CAST(:status AS text) IS NULL OR j.status::text = :status)
                  AND (CAST(:task_name AS text) IS NULL OR j.task_name = :task_name)
                  AND (CAST(:before_id AS bigint) IS NULL OR j.id < :before_id)
                ORDER BY j.id DESC
                LIMIT :limit
                """
            ),
            {"status": status, "task_name": task_name, "before_id": before_id, "limit": limit},
        )
        return [JobRow(**row) for row in result.mappings()]

    async def get_job(self, job_id: int) -> JobRow | None:
        result = await self.session.execute(text(_JOBS + " WHERE j.id = :id"), {"id": job_id})
        row = result.mappings().one_or_none()
        return None if row is None else JobRow(**row)

    async def retry_target(self, job_id: int) -> RetryTarget | None:
        result = await self.session.execute(
            text(
                "SELECT id, status::text AS status, task_name, queue_name, args, lock,"
                " queueing_lock FROM procrastinate_jobs WHERE id = :id"
            ),
            {"id": job_id},
        )
        row = result.mappings().one_or_none()
        return None if row is None else RetryTarget(**row)

    async def queue_depth(self) -> list[tuple[str, str, int]]:
        """(task, status, jobs) of the jobs waiting (``todo``) or running (``doing``): the
        partial indexes procrastinate keeps on those states make this cheap."""
        result = await self.session.execute(
            text(
                "SELECT task_name, status::text AS status, count(*) AS count"
                " FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
                " GROUP BY 1, 2 ORDER BY 1, 2"
            )
        )
        return [
            (str(row["task_name"]), str(row["status"]), int(row["count"]))
            for row in result.mappings()
        ]

    async def waiting_job_id(self, queueing_lock: str) -> int | None:
        """The job that holds ``queueing_lock`` while it waits to run, if any."""
        result = await self.session.scalar(
            text(
                "SELECT id FROM procrastinate_jobs WHERE queueing_lock = :lock AND status = 'todo'"
            ),
            {"lock": queueing_lock},
        )
        return None if result is None else int(result)

    async def failures(self, job_id: int) -> list[FailureRow]:
        result = await self.session.execute(
            text(
                "SELECT attempt, error_type, error, failed_at FROM job_failure"
                " WHERE job_id = :id ORDER BY attempt, id"
            ),
            {"id": job_id},
        )
        return [FailureRow(**row) for row in result.mappings()]


async def record_failure(
    connector: BaseConnector, *, job_id: int, attempt: int, error_type: str, error: str
) -> None:
    """Keep why one attempt of a job failed (its own statement: the job's work rolled back)."""
    await connector.execute_query_async(
        _RECORD_FAILURE,
        job_id=job_id,
        attempt=attempt,
        error_type=error_type[:200],
        error=error[:MAX_ERROR_CHARS],
    )


async def write_progress(
    conn: psycopg.AsyncConnection[Any], *, job_id: int, done: int, total: int
) -> None:
    """How far job ``job_id`` got, on an autocommit connection (visible while the job runs)."""
    await conn.execute(_WRITE_PROGRESS, {"job_id": job_id, "done": done, "total": total})


async def write_result(
    conn: psycopg.AsyncConnection[Any],
    *,
    job_id: int,
    done: int,
    total: int,
    result: dict[str, Any],
) -> None:
    """What job ``job_id`` answered, with its last progress, on an autocommit connection."""
    await conn.execute(
        _WRITE_RESULT, {"job_id": job_id, "done": done, "total": total, "result": Jsonb(result)}
    )
