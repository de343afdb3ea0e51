"""Incident workflow (who closed it, with what note) and customer SMS alerts: deliveries, mutes.

Revision ID: 0011
Revises: 0007
Create Date: 2026-11-24 12:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = ("queued", "deferred", "sent", "failed", "muted", "cancelled")


def upgrade() -> None:
    op.add_column("incident", sa.Column("closed_by", sa.Integer(), nullable=True))
    op.add_column("incident", sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("incident", sa.Column("note", sa.Text(), server_default="", nullable=False))
    op.create_table(
        "alert_delivery",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column(
            "status",
            sa.Enum(*STATUSES, name="alert_status"),
            server_default="queued",
            nullable=False,
        ),
        sa.Column("attempts", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("text", sa.Text(), server_default="", nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_alert_delivery_incident_id_incident")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_alert_delivery_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_delivery")),
        sa.UniqueConstraint(
            "incident_id", "user_id", name=op.f("uq_alert_delivery_incident_id_user_id")
        ),
    )
    op.create_index(
        "ix_alert_delivery_due",
        "alert_delivery",
        ["next_attempt_at"],
        postgresql_where=sa.text("next_attempt_at IS NOT NULL"),
    )
    op.create_index("ix_alert_delivery_user_sent", "alert_delivery", ["user_id", "sent_at"])
    op.create_table(
        "alert_mute",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_alert_mute_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "category", name=op.f("pk_alert_mute")),
    )


def downgrade() -> None:
    op.drop_table("alert_mute")
    op.drop_index("ix_alert_delivery_user_sent", table_name="alert_delivery")
    op.drop_index("ix_alert_delivery_due", table_name="alert_delivery")
    op.drop_table("alert_delivery")
    sa.Enum(name="alert_status").drop(op.get_bind(), checkfirst=True)
    op.drop_column("incident", "note")
    op.drop_column("incident", "closed_at")
    op.drop_column("incident", "closed_by")
