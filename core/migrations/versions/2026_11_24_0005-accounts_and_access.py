"""Accounts and access: users, SMS codes and their send log, refresh tokens, the append-only audit
log, and the links that scope what each user may see (building managers, dwelling occupants,
technician rounds).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 09:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LANGUAGE = postgresql.ENUM("en", "fr", "tpi", name="language", create_type=False)
CODE_PURPOSE = postgresql.ENUM("activation", "password_reset", name="code_purpose")


def upgrade() -> None:
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("phone", sa.String(16), nullable=True),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("language", LANGUAGE, nullable=False),
        sa.Column(
            "role",
            sa.Enum("customer", "manager", "technician", "admin", name="user_role"),
            server_default="customer",
            nullable=False,
        ),
        sa.Column("is_active", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
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
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("phone", name=op.f("uq_app_user_phone")),
    )
    op.create_table(
        "sms_code",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("purpose", CODE_PURPOSE, nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("attempts", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_sms_code_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_code")),
    )
    op.create_index(
        "ix_sms_code_user_purpose_created", "sms_code", ["user_id", "purpose", "created_at"]
    )
    op.create_table(
        "sms_send_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column(
            "purpose",
            postgresql.ENUM("activation", "password_reset", name="code_purpose", create_type=False),
            nullable=False,
        ),
        sa.Column("delivered", sa.Boolean(), nullable=False),
        sa.Column(
            "sent_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_send_log")),
    )
    op.create_index("ix_sms_send_log_phone_sent", "sms_send_log", ["phone", "sent_at"])
    op.create_table(
        "refresh_token",
        sa.Column("jti", sa.Uuid(), nullable=False),
        sa.Column("family", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "issued_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_refresh_token_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_refresh_token")),
    )
    op.create_index("ix_refresh_token_family", "refresh_token", ["family"])
    op.create_index("ix_refresh_token_user_id", "refresh_token", ["user_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("ip", postgresql.INET(), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target_type", sa.String(32), nullable=True),
        sa.Column("target_id", sa.String(64), nullable=True),
        sa.Column(
            "detail",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_actor_at", "audit_log", ["actor_id", "at"])
    op.create_index("ix_audit_log_target", "audit_log", ["target_type", "target_id"])
    # Append-only in the database itself: no role the application connects as can rewrite history.
    op.execute(
        """
        CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$;
        CREATE TRIGGER audit_log_append_only
            BEFORE UPDATE OR DELETE ON audit_log
            FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
        CREATE TRIGGER audit_log_no_truncate
            BEFORE TRUNCATE ON audit_log
            FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
        """
    )
    op.create_table(
        "building_manager",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("building_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_building_manager_user_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["building_id"], ["building.id"], name=op.f("fk_building_manager_building_id_building")
        ),
        sa.PrimaryKeyConstraint("user_id", "building_id", name=op.f("pk_building_manager")),
    )
    op.create_index("ix_building_manager_building_id", "building_manager", ["building_id"])
    op.create_table(
        "dwelling_occupant",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("dwelling_id", sa.Integer(), nullable=False),
        sa.Column("relation", sa.Enum("tenant", "owner", name="occupant_relation"), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "end_date IS NULL OR end_date >= start_date",
            name=op.f("ck_dwelling_occupant_dates_in_order"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_dwelling_occupant_user_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["dwelling_id"],
            ["dwelling.id"],
            name=op.f("fk_dwelling_occupant_dwelling_id_dwelling"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dwelling_occupant")),
    )
    op.create_index("ix_dwelling_occupant_user_id", "dwelling_occupant", ["user_id"])
    op.create_index("ix_dwelling_occupant_dwelling_id", "dwelling_occupant", ["dwelling_id"])
    op.create_table(
        "technician_assignment",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("technician_id", sa.Integer(), nullable=False),
        sa.Column("building_id", sa.Integer(), nullable=True),
        sa.Column("meter_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(building_id IS NULL) <> (meter_id IS NULL)",
            name=op.f("ck_technician_assignment_building_xor_meter"),
        ),
        sa.ForeignKeyConstraint(
            ["technician_id"],
            ["app_user.id"],
            name=op.f("fk_technician_assignment_technician_id_app_user"),
        ),
        sa.ForeignKeyConstraint(
            ["building_id"],
            ["building.id"],
            name=op.f("fk_technician_assignment_building_id_building"),
        ),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meter.id"], name=op.f("fk_technician_assignment_meter_id_meter")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_technician_assignment")),
    )
    op.create_index(
        "ix_technician_assignment_technician_id", "technician_assignment", ["technician_id"]
    )


def downgrade() -> None:
    op.drop_table("technician_assignment")
    op.drop_table("dwelling_occupant")
    op.drop_table("building_manager")
    op.drop_table("audit_log")
    op.execute("DROP FUNCTION audit_log_append_only()")
    op.drop_table("refresh_token")
    op.drop_table("sms_send_log")
    op.drop_table("sms_code")
    op.drop_table("app_user")
    for enum in ("occupant_relation", "code_purpose", "user_role"):
        op.execute(f"DROP TYPE {enum}")
