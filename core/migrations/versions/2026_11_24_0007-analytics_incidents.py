"""Analytics: incidents (anomalies with a lifecycle) and the incremental scan's watermark.

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-24 09:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = "status IN ('open', 'acknowledged')"


def upgrade() -> None:
    op.create_table(
        "incident",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column(
            "severity",
            sa.Enum("info", "warning", "critical", name="incident_severity"),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum("open", "acknowledged", "resolved", "closed", name="incident_status"),
            server_default="open",
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "evidence",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "opened_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("acknowledged_by", sa.Integer(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meter.id"], name=op.f("fk_incident_meter_id_meter")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident")),
    )
    op.create_index(
        "uq_incident_one_active",
        "incident",
        ["meter_id", "kind"],
        unique=True,
        postgresql_where=sa.text(ACTIVE),
    )
    op.create_index("ix_incident_meter_started", "incident", ["meter_id", "started_at"])
    op.create_index(
        "ix_incident_active_kind",
        "incident",
        ["kind", "severity"],
        postgresql_where=sa.text(ACTIVE),
    )
    op.create_table(
        "analytics_scan",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("watermark", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "finished_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_analytics_scan")),
    )


def downgrade() -> None:
    op.drop_table("analytics_scan")
    op.drop_index("ix_incident_active_kind", table_name="incident")
    op.drop_index("ix_incident_meter_started", table_name="incident")
    op.drop_index("uq_incident_one_active", table_name="incident")
    op.drop_table("incident")
    sa.Enum(name="incident_status").drop(op.get_bind(), checkfirst=True)
    sa.Enum(name="incident_severity").drop(op.get_bind(), checkfirst=True)
