"""Declared absences ("holiday mode"): ``dwelling_absence``, one row per dwelling and trip.

Revision ID: 0026
Revises: 0024
Create Date: 2026-12-08 01:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dwelling_absence",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("dwelling_id", sa.Integer(), nullable=False),
        sa.Column("from_date", sa.Date(), nullable=False),
        sa.Column("to_date", sa.Date(), nullable=False),
        sa.Column(
            "source", sa.Enum("portal", "sms", "operator", name="absence_source"), nullable=False
        ),
        sa.Column("declared_by", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("to_date >= from_date", name=op.f("ck_dwelling_absence_dates_in_order")),
        sa.ForeignKeyConstraint(
            ["declared_by"],
            ["app_user.id"],
            name=op.f("fk_dwelling_absence_declared_by_app_user"),
        ),
        sa.ForeignKeyConstraint(
            ["dwelling_id"],
            ["dwelling.id"],
            name=op.f("fk_dwelling_absence_dwelling_id_dwelling"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dwelling_absence")),
    )
    op.create_index(
        "ix_dwelling_absence_dwelling_dates",
        "dwelling_absence",
        ["dwelling_id", "from_date", "to_date"],
    )


def downgrade() -> None:
    op.drop_index("ix_dwelling_absence_dwelling_dates", table_name="dwelling_absence")
    op.drop_table("dwelling_absence")
    sa.Enum(name="absence_source").drop(op.get_bind(), checkfirst=True)
