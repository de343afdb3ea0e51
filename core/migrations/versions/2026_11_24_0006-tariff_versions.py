"""Versioned tariffs: one row per version (country-wide or per zone), its blocks and its
subscriptions per dwelling type.

Revision ID: 0006
Revises: 0002
Create Date: 2026-11-24 09:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tariff",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("vat_pct", sa.Numeric(precision=7, scale=4), nullable=False),
        sa.Column("service_fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("penalty_pct", sa.Numeric(precision=7, scale=4), nullable=False),
        sa.Column("penalty_fixed_minor", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("vat_pct BETWEEN 0 AND 100", name=op.f("ck_tariff_vat_pct")),
        sa.CheckConstraint("penalty_pct BETWEEN 0 AND 100", name=op.f("ck_tariff_penalty_pct")),
        sa.CheckConstraint(
            "service_fee_minor >= 0 AND penalty_fixed_minor >= 0",
            name=op.f("ck_tariff_amounts_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["country_code"], ["country.code"], name=op.f("fk_tariff_country_code_country")
        ),
        sa.ForeignKeyConstraint(["zone_id"], ["zone.id"], name=op.f("fk_tariff_zone_id_zone")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tariff")),
    )
    op.create_index(
        "uq_tariff_scope_effective",
        "tariff",
        ["country_code", "zone_id", "effective_from"],
        unique=True,
        postgresql_nulls_not_distinct=True,
    )
    op.create_table(
        "tariff_block",
        sa.Column("tariff_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("upper_m3", sa.Numeric(precision=12, scale=3), nullable=True),
        sa.Column("price_per_m3", sa.Numeric(precision=14, scale=6), nullable=False),
        sa.CheckConstraint("price_per_m3 >= 0", name=op.f("ck_tariff_block_price_not_negative")),
        sa.CheckConstraint("position >= 1", name=op.f("ck_tariff_block_position_from_one")),
        sa.ForeignKeyConstraint(
            ["tariff_id"],
            ["tariff.id"],
            name=op.f("fk_tariff_block_tariff_id_tariff"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tariff_id", "position", name=op.f("pk_tariff_block")),
    )
    op.create_table(
        "tariff_subscription",
        sa.Column("tariff_id", sa.Integer(), nullable=False),
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
        sa.Column("monthly_minor", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "monthly_minor >= 0", name=op.f("ck_tariff_subscription_monthly_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["tariff_id"],
            ["tariff.id"],
            name=op.f("fk_tariff_subscription_tariff_id_tariff"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tariff_id", "dwelling_type", name=op.f("pk_tariff_subscription")),
    )


def downgrade() -> None:
    op.drop_table("tariff_subscription")
    op.drop_table("tariff_block")
    op.drop_index("uq_tariff_scope_effective", table_name="tariff")
    op.drop_table("tariff")
