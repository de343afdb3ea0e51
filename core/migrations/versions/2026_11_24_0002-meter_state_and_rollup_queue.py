"""Per-meter latest state and the queue of meters whose rollups need a refresh.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 09:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "meter_state",
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("last_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_index_l", sa.BigInteger(), nullable=False),
        sa.Column("last_received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("readings_total", sa.BigInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meter.id"], name=op.f("fk_meter_state_meter_id_meter")
        ),
        sa.PrimaryKeyConstraint("meter_id", name=op.f("pk_meter_state")),
    )
    op.create_table(
        "rollup_pending",
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "queued_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("meter_id", name=op.f("pk_rollup_pending")),
    )


def downgrade() -> None:
    op.drop_table("rollup_pending")
    op.drop_table("meter_state")
