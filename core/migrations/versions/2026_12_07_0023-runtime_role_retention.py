"""Retention as the runtime role: ``drop_chunks`` needs the owner of ``reading``, so the owner
lends exactly that through a SECURITY DEFINER function ``waterbill_app`` may call.

The function drops whole raw-reading chunks older than its argument and nothing newer than a day
ago (``retention_days`` is at least 1), and never past the oldest reading the rollups have not
taken in yet: the database keeps the billing volumes' source even if the application asks wrong.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 20:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUNTIME = "waterbill_app"
SIGNATURE = "drop_reading_chunks(timestamptz)"

# search_path pinned (pg_temp last): a SECURITY DEFINER function must not resolve names in a
# schema its caller controls.
DROP_READING_CHUNKS = """
CREATE FUNCTION drop_reading_chunks(older_than timestamptz) RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    pending timestamptz;
BEGIN
    IF older_than > now() - interval '1 day' THEN
        RAISE EXCEPTION 'raw readings of the last day are kept (asked to drop before %)',
            older_than USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT min(since) INTO pending FROM rollup_pending;
    RETURN QUERY SELECT chunk::text
        FROM drop_chunks('public.reading'::regclass, older_than => least(older_than, pending))
        AS chunk;
END $$
"""


def upgrade() -> None:
    op.execute(DROP_READING_CHUNKS)
    op.execute(f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {SIGNATURE} TO {RUNTIME}")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {SIGNATURE}")
