"""Event-time watermarks of the anomaly scan, per detector and partition (``analytics_watermark``);
the scan's single row in ``analytics_scan`` goes (the VEE keeps its own).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-08 01:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analytics_watermark",
        sa.Column("detector", sa.String(length=32), nullable=False),
        sa.Column("partitions", sa.Integer(), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("watermark", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint(
            "detector", "partitions", "partition", name=op.f("pk_analytics_watermark")
        ),
    )
    # The old single watermark carries over to every detector, as one partition of one.
    op.execute(
        "INSERT INTO analytics_watermark (detector, partitions, partition, watermark)"
        " SELECT d, 1, 0, watermark FROM analytics_scan,"
        " unnest(ARRAY['hourly', 'readings', 'silent', 'abnormal']) d"
        " WHERE name = 'incidents'"
    )
    op.execute("DELETE FROM analytics_scan WHERE name = 'incidents'")


def downgrade() -> None:
    op.execute(
        "INSERT INTO analytics_scan (name, watermark)"
        " SELECT 'incidents', min(watermark) FROM analytics_watermark HAVING count(*) > 0"
    )
    op.drop_table("analytics_watermark")
