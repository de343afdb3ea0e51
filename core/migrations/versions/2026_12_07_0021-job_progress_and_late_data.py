"""Job progress (what a long job has done so far, for ``GET /jobs/{id}``) and the late-data
watermark of each billing period.

Revision ID: 0021
Revises: 0019
Create Date: 2026-12-07 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_progress",
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_job_progress")),
    )
    op.add_column("billing_period", sa.Column("late_checked_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("billing_period", "late_checked_at")
    op.drop_table("job_progress")
