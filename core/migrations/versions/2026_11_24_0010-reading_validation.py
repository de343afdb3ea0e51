"""VEE: validation flags beside the raw readings (which are never rewritten).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reading_flag",
        sa.Column("meter_id", sa.Integer(), nullable=False),
        # The reading's time (or a local day's midnight for day rules such as zero_occupied).
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column(
            "source",
            postgresql.ENUM(name="reading_source", create_type=False),
            nullable=True,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("raw_index_l", sa.BigInteger(), nullable=True),
        # What billing may use: the raw index when accepted, another when an edit says so,
        # NULL when rejected.
        sa.Column("validated_index_l", sa.BigInteger(), nullable=True),
        sa.Column("used_l", sa.BigInteger(), nullable=True),
        sa.Column(
            "detail",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("reviewed_by", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('accepted', 'suspect', 'rejected', 'estimated')",
            name=op.f("ck_reading_flag_status"),
        ),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meter.id"], name=op.f("fk_reading_flag_meter_id_meter")
        ),
        sa.PrimaryKeyConstraint("meter_id", "at", "rule", name=op.f("pk_reading_flag")),
    )
    # The review queue: suspect flags, newest first, fleet-wide.
    op.create_index(
        "ix_reading_flag_suspect",
        "reading_flag",
        ["created_at"],
        postgresql_where=sa.text("status = 'suspect'"),
    )


def downgrade() -> None:
    op.drop_index("ix_reading_flag_suspect", table_name="reading_flag")
    op.drop_table("reading_flag")
