"""The operator console: fleet days across meters (``ix_meter_daily_day``) and who an incident is
assigned to (``incident.assigned_to``).

Revision ID: 0029
Revises: 0024
Create Date: 2026-12-08 01:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_meter_daily_day", "meter_daily", ["day", "meter_id"])
    op.add_column("incident", sa.Column("assigned_to", sa.Integer()))
    op.add_column("incident", sa.Column("assigned_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("incident", "assigned_at")
    op.drop_column("incident", "assigned_to")
    op.drop_index("ix_meter_daily_day", table_name="meter_daily")
