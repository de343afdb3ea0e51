"""What a finished job answered (``job_progress.result``: an issue's numbers, an import's counts)
and the meter files waiting for their import job (``meter_import``).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 22:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("job_progress", sa.Column("result", postgresql.JSONB()))
    op.create_table(
        "meter_import",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("meters", postgresql.JSONB(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_import")),
    )


def downgrade() -> None:
    op.drop_table("meter_import")
    op.drop_column("job_progress", "result")
