"""What procrastinate does not keep: why a job attempt failed, and how far a long job got.

procrastinate's own tables (``procrastinate_*``, created by migration 0016 from its shipped
schema) hold the jobs, their state and attempts, but no error text; a worker middleware writes one
row here per failed attempt so that ``GET /jobs/{id}`` can say what went wrong.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Identity, Index, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base

# Tables of the job library, not ours: migrations create them from its schema, the model
# comparison leaves them out (core/migrations/env.py, tests/core/test_migrations.py).
LIBRARY_TABLE_PREFIX = "procrastinate_"


class JobFailure(Base):
    __tablename__ = "job_failure"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    # No foreign key: procrastinate may delete finished jobs; their failures stay readable.
    job_id: Mapped[int] = mapped_column(BigInteger)
    attempt: Mapped[int] = mapped_column(Integer)
    error_type: Mapped[str] = mapped_column(String(200))
    error: Mapped[str] = mapped_column(Text)
    failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        # GET /jobs/{id} reads one job's failures, newest first.
        Index("ix_job_failure_job_id", "job_id", "attempt"),
    )


class JobProgress(Base):
    """How far a long job got (a close: dwellings priced of the total), written by the task on
    its own connection so that it shows while the job's transaction is still open, and what it
    answered at the end."""

    __tablename__ = "job_progress"

    # No foreign key, as for job_failure.
    job_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    done: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    # What the job answered once done (an issue's numbers, an import's counts), for GET /jobs/{id}.
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
