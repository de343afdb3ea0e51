"""Foundation schema: places, dwellings, meters, and the telemetry side (readings, quarantine,
daily rollups).

Revision ID: 0001
Revises:
Create Date: 2026-11-24 09:00:54
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.timescale import tsl_available

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# One chunk per day: at 100k meters reporting hourly a day is ~2.4M rows (~270 MB with indexes),
# which keeps the working chunk and its index in memory and lets retention drop whole days.
READING_CHUNK = "1 day"


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    op.create_table(
        "country",
        sa.Column("code", sa.String(length=2), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("language", sa.Enum("en", "fr", "tpi", name="language"), nullable=False),
        sa.Column("sms_provider", sa.String(length=32), server_default="console", nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_country")),
    )
    op.create_table(
        "zone",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["country_code"], ["country.code"], name=op.f("fk_zone_country_code_country")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zone")),
        sa.UniqueConstraint("code", name=op.f("uq_zone_code")),
    )
    op.create_index(op.f("ix_zone_country_code"), "zone", ["country_code"], unique=False)
    op.create_table(
        "building",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["zone_id"], ["zone.id"], name=op.f("fk_building_zone_id_zone")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_building")),
    )
    op.create_index(op.f("ix_building_zone_id"), "building", ["zone_id"], unique=False)
    op.create_table(
        "dwelling",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("building_id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column(
            "dwelling_type",
            sa.Enum("apartment", "house", "commercial", "communal", name="dwelling_type"),
            nullable=False,
        ),
        sa.Column(
            "occupancy",
            sa.Enum("occupied", "vacant", name="occupancy"),
            server_default="occupied",
            nullable=False,
        ),
        sa.Column("occupants", sa.SmallInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["building_id"], ["building.id"], name=op.f("fk_dwelling_building_id_building")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dwelling")),
        sa.UniqueConstraint(
            "building_id", "reference", name=op.f("uq_dwelling_building_id_reference")
        ),
    )
    op.create_index(op.f("ix_dwelling_building_id"), "dwelling", ["building_id"], unique=False)
    op.create_table(
        "meter",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column(
            "kind", sa.Enum("mechanical", "electronic", "iot", name="meter_kind"), nullable=False
        ),
        sa.Column(
            "unit", sa.Enum("m3", "l", name="meter_unit"), server_default="m3", nullable=False
        ),
        sa.Column("register_digits", sa.SmallInteger(), server_default="9", nullable=False),
        sa.Column("dwelling_id", sa.Integer(), nullable=True),
        sa.Column("installed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("initial_index_l", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("reporting_interval_s", sa.Integer(), server_default="3600", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "register_digits BETWEEN 4 AND 12", name=op.f("ck_meter_register_digits")
        ),
        sa.CheckConstraint(
            "removed_at IS NULL OR removed_at > installed_at", name=op.f("ck_meter_removal_after")
        ),
        sa.ForeignKeyConstraint(
            ["dwelling_id"], ["dwelling.id"], name=op.f("fk_meter_dwelling_id_dwelling")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter")),
        sa.UniqueConstraint("serial", name=op.f("uq_meter_serial")),
    )
    op.create_index(
        "ix_meter_dwelling_installed", "meter", ["dwelling_id", "installed_at"], unique=False
    )

    op.create_table(
        "reading",
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "source",
            sa.Enum("iot", "manual", "estimated", name="reading_source"),
            nullable=False,
        ),
        sa.Column("index_l", sa.BigInteger(), nullable=False),
        sa.Column("flow_lph", sa.Double(), nullable=True),
        sa.Column("battery_pct", sa.SmallInteger(), nullable=True),
        sa.Column("signal_dbm", sa.SmallInteger(), nullable=True),
        sa.Column("alarms", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("meter_id", "time", "source", name=op.f("pk_reading")),
    )
    # No default time index: every query goes through a meter, so the primary key serves them
    # all, and one index fewer is one write fewer per reading.
    op.execute(
        f"SELECT create_hypertable('reading', by_range('time', INTERVAL '{READING_CHUNK}'),"
        " create_default_indexes => false)"
    )
    if tsl_available(op.get_bind()):
        # Compression is a Timescale-licensed feature (the docker image has it; the Apache build
        # used on bare Debian machines refuses it): old chunks shrink ~10x, segmented per meter.
        op.execute(
            "ALTER TABLE reading SET (timescaledb.compress,"
            " timescaledb.compress_segmentby = 'meter_id', timescaledb.compress_orderby = 'time')"
        )
        op.execute("SELECT add_compression_policy('reading', INTERVAL '60 days')")

    op.create_table(
        "quarantine",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), server_default="", nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=True),
        sa.Column(
            "status",
            sa.Enum("open", "reprocessed", "discarded", name="quarantine_status"),
            server_default="open",
            nullable=False,
        ),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
    )
    op.create_index(
        "ix_quarantine_status_reason_received",
        "quarantine",
        ["status", "reason", "received_at"],
        unique=False,
    )
    op.create_table(
        "meter_daily",
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("volume_l", sa.BigInteger(), nullable=False),
        sa.Column("start_index_l", sa.BigInteger(), nullable=False),
        sa.Column("end_index_l", sa.BigInteger(), nullable=False),
        sa.Column("reading_count", sa.Integer(), nullable=False),
        sa.Column("has_estimate", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("meter_id", "day", name=op.f("pk_meter_daily")),
    )

    op.execute(
        "INSERT INTO country (code, name, currency, timezone, language) VALUES"
        " ('PG', 'Papua New Guinea', 'PGK', 'Pacific/Port_Moresby', 'en'),"
        " ('CM', 'Cameroon', 'XAF', 'Africa/Douala', 'fr'),"
        " ('FR', 'France', 'EUR', 'Europe/Paris', 'fr')"
    )


def downgrade() -> None:
    op.drop_table("meter_daily")
    op.drop_table("quarantine")
    op.drop_table("reading")
    op.drop_table("meter")
    op.drop_table("dwelling")
    op.drop_table("building")
    op.drop_table("zone")
    op.drop_table("country")
    for enum in (
        "quarantine_status",
        "reading_source",
        "meter_unit",
        "meter_kind",
        "occupancy",
        "dwelling_type",
        "language",
    ):
        op.execute(f"DROP TYPE IF EXISTS {enum}")
