"""Payments ledger: payments, provider events, allocations, SMS notice claims, late penalties.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 12:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

METHODS = ("card", "orange_money", "mtn_momo", "bank_transfer", "cash")
STATUSES = ("pending", "succeeded", "failed")


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    method = sa.Enum(*METHODS, name="payment_method")
    status = sa.Enum(*STATUSES, name="payment_status")
    method.create(op.get_bind(), checkfirst=True)
    status.create(op.get_bind(), checkfirst=True)
    method = postgresql.ENUM(*METHODS, name="payment_method", create_type=False)
    status = postgresql.ENUM(*STATUSES, name="payment_status", create_type=False)
    op.create_table(
        "payment",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("dwelling_id", sa.Integer(), nullable=False),
        sa.Column("method", method, nullable=False),
        sa.Column("status", status, nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("provider_ref", sa.String(length=128), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("polls", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_payment_amount_positive")),
        sa.CheckConstraint(
            "(status = 'succeeded') = (received_at IS NOT NULL)",
            name=op.f("ck_payment_received_when_succeeded"),
        ),
        sa.ForeignKeyConstraint(
            ["dwelling_id"], ["dwelling.id"], name=op.f("fk_payment_dwelling_id_dwelling")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["app_user.id"], name=op.f("fk_payment_recorded_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment")),
        sa.UniqueConstraint("reference", name=op.f("uq_payment_reference")),
    )
    op.create_index("ix_payment_dwelling_received", "payment", ["dwelling_id", "received_at"])
    op.create_index(
        "ix_payment_pending_created",
        "payment",
        ["created_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "payment_event",
        sa.Column("method", method, nullable=False),
        sa.Column("event_id", sa.String(length=160), nullable=False),
        sa.Column("payment_id", sa.BigInteger(), nullable=False),
        sa.Column("status", status, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column(
            "payload",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payment.id"], name=op.f("fk_payment_event_payment_id_payment")
        ),
        sa.PrimaryKeyConstraint("method", "event_id", name=op.f("pk_payment_event")),
    )
    op.create_index(
        op.f("ix_payment_event_payment_id"), "payment_event", ["payment_id"], unique=False
    )
    op.create_table(
        "payment_allocation",
        sa.Column("payment_id", sa.BigInteger(), nullable=False),
        sa.Column("invoice_id", sa.BigInteger(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_payment_allocation_amount_positive")),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoice.id"], name=op.f("fk_payment_allocation_invoice_id_invoice")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payment.id"], name=op.f("fk_payment_allocation_payment_id_payment")
        ),
        sa.PrimaryKeyConstraint("payment_id", "invoice_id", name=op.f("pk_payment_allocation")),
    )
    op.create_index("ix_payment_allocation_invoice", "payment_allocation", ["invoice_id"])
    op.create_table(
        "billing_notice",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("invoice_issued", "due_reminder", "payment_received", name="notice_kind"),
            nullable=False,
        ),
        sa.Column("subject_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("claimed", "sent", "failed", "no_recipient", name="notice_status"),
            nullable=False,
        ),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("text", sa.Text(), server_default="", nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_notice")),
        sa.UniqueConstraint("kind", "subject_id", name="uq_billing_notice_kind_subject"),
    )
    op.create_table(
        "late_penalty",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("invoice_id", sa.BigInteger(), nullable=False),
        sa.Column("overdue_minor", sa.BigInteger(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "status",
            sa.Enum("proposed", "approved", "rejected", name="penalty_status"),
            nullable=False,
        ),
        sa.Column("proposed_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_late_penalty_amount_positive")),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["app_user.id"], name=op.f("fk_late_penalty_decided_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoice.id"], name=op.f("fk_late_penalty_invoice_id_invoice")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_late_penalty")),
        sa.UniqueConstraint("invoice_id", name=op.f("uq_late_penalty_invoice_id")),
    )


def downgrade() -> None:
    op.drop_table("late_penalty")
    op.drop_table("billing_notice")
    op.drop_index("ix_payment_allocation_invoice", table_name="payment_allocation")
    op.drop_table("payment_allocation")
    op.drop_index(op.f("ix_payment_event_payment_id"), table_name="payment_event")
    op.drop_table("payment_event")
    op.drop_index("ix_payment_pending_created", table_name="payment")
    op.drop_index("ix_payment_dwelling_received", table_name="payment")
    op.drop_table("payment")
    for name in ("penalty_status", "notice_status", "notice_kind", "payment_status"):
        sa.Enum(name=name).drop(op.get_bind(), checkfirst=True)
    sa.Enum(name="payment_method").drop(op.get_bind(), checkfirst=True)
