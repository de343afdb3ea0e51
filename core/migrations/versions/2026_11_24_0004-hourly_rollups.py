"""Hourly per-meter rollups (a hypertable) and the boundary flags of the daily ones.

Revision ID: 0004
Revises: 0006
Create Date: 2026-11-24 09:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 100k meters x 24 hours x 7 days is ~17M rows (~2 GB with the key): a week per chunk keeps the
# chunk being refreshed in memory and lets retention drop whole weeks.
HOURLY_CHUNK = "7 days"

FLAGS = ("start_interpolated", "end_interpolated", "negative_step")


def upgrade() -> None:
    op.create_table(
        "meter_hourly",
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("hour_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("volume_l", sa.BigInteger(), nullable=False),
        sa.Column("start_index_l", sa.BigInteger(), nullable=False),
        sa.Column("end_index_l", sa.BigInteger(), nullable=False),
        sa.Column("reading_count", sa.Integer(), nullable=False),
        sa.Column("start_interpolated", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("end_interpolated", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("has_estimate", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("negative_step", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("meter_id", "hour_start", name=op.f("pk_meter_hourly")),
    )
    # The primary key (meter, hour) serves every read and the refresh's upsert: no time index.
    op.execute(
        "SELECT create_hypertable('meter_hourly',"
        f" by_range('hour_start', INTERVAL '{HOURLY_CHUNK}'), create_default_indexes => false)"
    )
    for flag in FLAGS:
        op.add_column(
            "meter_daily", sa.Column(flag, sa.Boolean(), server_default="false", nullable=False)
        )


def downgrade() -> None:
    for flag in FLAGS:
        op.drop_column("meter_daily", flag)
    op.drop_table("meter_hourly")
