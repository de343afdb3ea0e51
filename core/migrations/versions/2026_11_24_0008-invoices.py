"""Invoices: billing periods, invoices, their lines and meter indexes, regularisation approvals,
the gapless number sequence, billing holds; triggers that freeze issued invoices.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 12:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("periodic", "subscription_only", "regularisation")
STATUSES = ("draft", "issued", "partially_paid", "paid", "overdue", "void")
HOLD_REASONS = ("tamper", "negative_step", "missing_reading", "rollup_pending", "no_tariff")

# Columns of an issued invoice that may still change: its payment state and its voiding.
MUTABLE = "ARRAY['status', 'paid_minor', 'paid_at', 'voided_at', 'voided_by', 'void_reason']"

# SQLSTATE raised by the guards; billing.exceptions maps it to InvoiceImmutable (409).
IMMUTABLE_SQLSTATE = "WB001"

INVOICE_GUARD = f"""
CREATE FUNCTION invoice_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'draft' THEN
            RAISE EXCEPTION 'invoice % is %: only drafts may be deleted', OLD.id, OLD.status
                USING ERRCODE = '{IMMUTABLE_SQLSTATE}';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status = 'void' THEN
        RAISE EXCEPTION 'invoice % is void: it never changes again', OLD.id
            USING ERRCODE = '{IMMUTABLE_SQLSTATE}';
    END IF;
    IF OLD.status <> 'draft' THEN
        IF NEW.status = 'draft' THEN
            RAISE EXCEPTION 'invoice % is %: it cannot go back to draft', OLD.id, OLD.status
                USING ERRCODE = '{IMMUTABLE_SQLSTATE}';
        END IF;
        IF to_jsonb(NEW) - {MUTABLE} IS DISTINCT FROM to_jsonb(OLD) - {MUTABLE} THEN
            RAISE EXCEPTION 'invoice % is %: issued invoices are immutable', OLD.id, OLD.status
                USING ERRCODE = '{IMMUTABLE_SQLSTATE}';
        END IF;
    END IF;
    RETURN NEW;
END $$
"""

# Lines and meter indexes belong to their invoice's content: writable only while it is a draft.
# A missing parent is a cascade from a draft's deletion (the invoice guard allowed it).
CHILD_GUARD = f"""
CREATE FUNCTION invoice_child_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    parent_status text;
BEGIN
    SELECT status::text INTO parent_status FROM invoice
    WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.invoice_id ELSE NEW.invoice_id END;
    IF parent_status IS NOT NULL AND parent_status <> 'draft' THEN
        RAISE EXCEPTION 'invoice is %: its % rows are immutable', parent_status, TG_TABLE_NAME
            USING ERRCODE = '{IMMUTABLE_SQLSTATE}';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$
"""


def _timestamp(name: str, nullable: bool = False) -> sa.Column[object]:
    if nullable:
        return sa.Column(name, sa.DateTime(timezone=True), nullable=True)
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "billing_period",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("label", sa.String(length=32), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        _timestamp("last_closed_at", nullable=True),
        _timestamp("created_at"),
        sa.CheckConstraint("end_date >= start_date", name=op.f("ck_billing_period_dates_in_order")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_period")),
        sa.UniqueConstraint(
            "start_date", "end_date", name=op.f("uq_billing_period_start_date_end_date")
        ),
    )
    op.create_table(
        "invoice",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.Enum(*KINDS, name="invoice_kind"), nullable=False),
        sa.Column(
            "status",
            sa.Enum(*STATUSES, name="invoice_status"),
            server_default="draft",
            nullable=False,
        ),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("dwelling_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("tariff_id", sa.Integer(), nullable=False),
        sa.Column("corrects_invoice_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "dwelling_type",
            postgresql.ENUM(
                "apartment",
                "house",
                "commercial",
                "communal",
                name="dwelling_type",
                create_type=False,
            ),
            nullable=False,
        ),
        sa.Column("period_days", sa.SmallInteger(), nullable=False),
        sa.Column("volume_l", sa.BigInteger(), nullable=False),
        sa.Column("estimated", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("net_minor", sa.BigInteger(), nullable=False),
        sa.Column("vat_minor", sa.BigInteger(), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("paid_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        _timestamp("issued_at", nullable=True),
        sa.Column("issued_by", sa.Integer(), nullable=True),
        _timestamp("paid_at", nullable=True),
        _timestamp("voided_at", nullable=True),
        sa.Column("voided_by", sa.Integer(), nullable=True),
        sa.Column("void_reason", sa.Text(), nullable=True),
        _timestamp("computed_at"),
        _timestamp("created_at"),
        sa.CheckConstraint(
            "total_minor = net_minor + vat_minor", name=op.f("ck_invoice_total_is_net_plus_vat")
        ),
        sa.CheckConstraint(
            "(status = 'draft') = (number IS NULL)", name=op.f("ck_invoice_number_iff_issued")
        ),
        sa.CheckConstraint(
            "(kind = 'regularisation') = (corrects_invoice_id IS NOT NULL)",
            name=op.f("ck_invoice_regularisation_links_original"),
        ),
        sa.CheckConstraint(
            "status <> 'void' OR void_reason IS NOT NULL", name=op.f("ck_invoice_void_has_reason")
        ),
        sa.ForeignKeyConstraint(
            ["period_id"], ["billing_period.id"], name=op.f("fk_invoice_period_id_billing_period")
        ),
        sa.ForeignKeyConstraint(
            ["dwelling_id"], ["dwelling.id"], name=op.f("fk_invoice_dwelling_id_dwelling")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["app_user.id"], name=op.f("fk_invoice_customer_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["country_code"], ["country.code"], name=op.f("fk_invoice_country_code_country")
        ),
        sa.ForeignKeyConstraint(
            ["tariff_id"], ["tariff.id"], name=op.f("fk_invoice_tariff_id_tariff")
        ),
        sa.ForeignKeyConstraint(
            ["corrects_invoice_id"],
            ["invoice.id"],
            name=op.f("fk_invoice_corrects_invoice_id_invoice"),
        ),
        sa.ForeignKeyConstraint(
            ["issued_by"], ["app_user.id"], name=op.f("fk_invoice_issued_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["voided_by"], ["app_user.id"], name=op.f("fk_invoice_voided_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice")),
    )
    op.create_index(
        "uq_invoice_dwelling_period",
        "invoice",
        ["dwelling_id", "period_id"],
        unique=True,
        postgresql_where=sa.text("kind <> 'regularisation' AND status <> 'void'"),
    )
    op.create_index(
        "uq_invoice_pending_regularisation",
        "invoice",
        ["corrects_invoice_id"],
        unique=True,
        postgresql_where=sa.text("kind = 'regularisation' AND status = 'draft'"),
    )
    op.create_index("uq_invoice_number", "invoice", ["country_code", "number"], unique=True)
    op.create_index("ix_invoice_period_status", "invoice", ["period_id", "status"])
    op.create_index("ix_invoice_dwelling_id", "invoice", ["dwelling_id"])
    op.create_index(
        "ix_invoice_open_due",
        "invoice",
        ["due_date"],
        postgresql_where=sa.text("status IN ('issued', 'partially_paid')"),
    )
    op.create_table(
        "invoice_line",
        sa.Column("invoice_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("block", sa.SmallInteger(), nullable=True),
        sa.Column("lower_l", sa.BigInteger(), nullable=True),
        sa.Column("upper_l", sa.BigInteger(), nullable=True),
        sa.Column("volume_l", sa.BigInteger(), nullable=True),
        sa.Column("unit_price", sa.Numeric(precision=14, scale=6), nullable=True),
        sa.Column("vat_pct", sa.Numeric(precision=7, scale=4), nullable=True),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoice.id"],
            name=op.f("fk_invoice_line_invoice_id_invoice"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("invoice_id", "position", name=op.f("pk_invoice_line")),
    )
    op.create_table(
        "invoice_meter",
        sa.Column("invoice_id", sa.BigInteger(), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("opening_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opening_index_l", sa.BigInteger(), nullable=False),
        sa.Column("opening_estimated", sa.Boolean(), nullable=False),
        sa.Column("closing_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closing_index_l", sa.BigInteger(), nullable=False),
        sa.Column("closing_estimated", sa.Boolean(), nullable=False),
        sa.Column("volume_l", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoice.id"],
            name=op.f("fk_invoice_meter_invoice_id_invoice"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meter.id"], name=op.f("fk_invoice_meter_meter_id_meter")
        ),
        sa.PrimaryKeyConstraint("invoice_id", "meter_id", name=op.f("pk_invoice_meter")),
    )
    op.create_table(
        "invoice_approval",
        sa.Column("invoice_id", sa.BigInteger(), nullable=False),
        sa.Column("admin_id", sa.Integer(), nullable=False),
        _timestamp("approved_at"),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoice.id"],
            name=op.f("fk_invoice_approval_invoice_id_invoice"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["admin_id"], ["app_user.id"], name=op.f("fk_invoice_approval_admin_id_app_user")
        ),
        sa.PrimaryKeyConstraint("invoice_id", "admin_id", name=op.f("pk_invoice_approval")),
    )
    op.create_table(
        "invoice_number_sequence",
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("last_number", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["country_code"],
            ["country.code"],
            name=op.f("fk_invoice_number_sequence_country_code_country"),
        ),
        sa.PrimaryKeyConstraint("country_code", "year", name=op.f("pk_invoice_number_sequence")),
    )
    op.create_table(
        "billing_hold",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("dwelling_id", sa.Integer(), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Enum(*HOLD_REASONS, name="hold_reason"), nullable=False),
        sa.Column("detail", sa.Text(), server_default="", nullable=False),
        _timestamp("created_at"),
        _timestamp("released_at", nullable=True),
        sa.Column("released_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["period_id"],
            ["billing_period.id"],
            name=op.f("fk_billing_hold_period_id_billing_period"),
        ),
        sa.ForeignKeyConstraint(
            ["dwelling_id"], ["dwelling.id"], name=op.f("fk_billing_hold_dwelling_id_dwelling")
        ),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meter.id"], name=op.f("fk_billing_hold_meter_id_meter")
        ),
        sa.ForeignKeyConstraint(
            ["released_by"], ["app_user.id"], name=op.f("fk_billing_hold_released_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_hold")),
        sa.UniqueConstraint(
            "period_id",
            "dwelling_id",
            "reason",
            name=op.f("uq_billing_hold_period_id_dwelling_id_reason"),
        ),
    )
    op.execute(INVOICE_GUARD)
    op.execute(
        "CREATE TRIGGER invoice_immutable BEFORE UPDATE OR DELETE ON invoice"
        " FOR EACH ROW EXECUTE FUNCTION invoice_guard()"
    )
    op.execute(CHILD_GUARD)
    for table in ("invoice_line", "invoice_meter"):
        op.execute(
            f"CREATE TRIGGER {table}_immutable BEFORE INSERT OR UPDATE OR DELETE ON {table}"
            " FOR EACH ROW EXECUTE FUNCTION invoice_child_guard()"
        )


def downgrade() -> None:
    for table in ("invoice_meter", "invoice_line"):
        op.execute(f"DROP TRIGGER {table}_immutable ON {table}")
    op.execute("DROP TRIGGER invoice_immutable ON invoice")
    op.execute("DROP FUNCTION invoice_child_guard()")
    op.execute("DROP FUNCTION invoice_guard()")
    op.drop_table("billing_hold")
    op.drop_table("invoice_number_sequence")
    op.drop_table("invoice_approval")
    op.drop_table("invoice_meter")
    op.drop_table("invoice_line")
    for index in (
        "ix_invoice_open_due",
        "ix_invoice_dwelling_id",
        "ix_invoice_period_status",
        "uq_invoice_number",
        "uq_invoice_pending_regularisation",
        "uq_invoice_dwelling_period",
    ):
        op.drop_index(index, table_name="invoice")
    op.drop_table("invoice")
    op.drop_table("billing_period")
    for enum in ("hold_reason", "invoice_status", "invoice_kind"):
        sa.Enum(name=enum).drop(op.get_bind(), checkfirst=True)
