"""The job queue: procrastinate's schema, and the failures it does not keep.

procrastinate ships its schema (``procrastinate/sql/schema.sql``, read through
``SchemaManager.get_schema``); this migration applies the one of the locked version (3.10). Each
later procrastinate release lists its schema changes as SQL files in
``procrastinate/sql/migrations``: upgrading it means one more migration here that applies those
files, in their order.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from procrastinate.schema import SchemaManager

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Through the driver, without parameters: the schema is many statements, with `%` in them.
    op.get_bind().connection.driver_connection.execute(SchemaManager.get_schema())  # type: ignore[union-attr]
    op.create_table(
        "job_failure",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("error_type", sa.String(length=200), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column(
            "failed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_failure")),
    )
    op.create_index("ix_job_failure_job_id", "job_failure", ["job_id", "attempt"])


def downgrade() -> None:
    op.drop_index("ix_job_failure_job_id", table_name="job_failure")
    op.drop_table("job_failure")
    op.execute(
        "DROP TABLE procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs,"
        " procrastinate_workers CASCADE"
    )
    op.execute(
        """
        DO $$
        DECLARE fn regprocedure;
        BEGIN
          FOR fn IN SELECT p.oid::regprocedure FROM pg_proc p
                    JOIN pg_namespace n ON n.oid = p.pronamespace
                    WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate%'
          LOOP
            EXECUTE 'DROP FUNCTION ' || fn || ' CASCADE';
          END LOOP;
        END $$
        """
    )
    op.execute(
        "DROP TYPE procrastinate_job_to_defer_v1, procrastinate_job_event_type,"
        " procrastinate_job_status"
    )
