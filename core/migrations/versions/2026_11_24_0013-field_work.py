"""Field work: photos, meter faults, manual-reading details and idempotency keys.

Revision ID: 0013
Revises: 0011
Create Date: 2026-11-24 12:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FAULT_KINDS = ("broken", "illegible", "leaking", "tampered", "stopped", "no_access", "other")


def upgrade() -> None:
    op.create_table(
        "photo",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=False),
        sa.Column(
            "uploaded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"], ["app_user.id"], name=op.f("fk_photo_uploaded_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_photo")),
        sa.UniqueConstraint("sha256", name=op.f("uq_photo_sha256")),
    )
    op.create_table(
        "meter_fault",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Enum(*FAULT_KINDS, name="fault_kind"), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("photo_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "status",
            sa.Enum("open", "resolved", name="fault_status"),
            server_default="open",
            nullable=False,
        ),
        sa.Column("reported_by", sa.Integer(), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "reported_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meter.id"], name=op.f("fk_meter_fault_meter_id_meter")
        ),
        sa.ForeignKeyConstraint(
            ["photo_id"], ["photo.id"], name=op.f("fk_meter_fault_photo_id_photo")
        ),
        sa.ForeignKeyConstraint(
            ["reported_by"], ["app_user.id"], name=op.f("fk_meter_fault_reported_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_fault")),
    )
    op.create_index("ix_meter_fault_status_meter", "meter_fault", ["status", "meter_id"])
    op.create_table(
        "manual_reading",
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_by", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("photo_id", sa.BigInteger(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["photo_id"], ["photo.id"], name=op.f("fk_manual_reading_photo_id_photo")
        ),
        sa.ForeignKeyConstraint(
            ["read_by"], ["app_user.id"], name=op.f("fk_manual_reading_read_by_app_user")
        ),
        sa.PrimaryKeyConstraint("meter_id", "time", name=op.f("pk_manual_reading")),
    )
    op.create_table(
        "idempotency_key",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("endpoint", sa.String(length=64), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=False),
        sa.Column(
            "response",
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
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_idempotency_key_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_idempotency_key")),
    )


def downgrade() -> None:
    op.drop_table("idempotency_key")
    op.drop_table("manual_reading")
    op.drop_index("ix_meter_fault_status_meter", table_name="meter_fault")
    op.drop_table("meter_fault")
    op.drop_table("photo")
    sa.Enum(name="fault_status").drop(op.get_bind(), checkfirst=True)
    sa.Enum(name="fault_kind").drop(op.get_bind(), checkfirst=True)
