"""Each rule once: the meter's local time zone (``meter_timezone``) and the tamper hold
(``tamper_hold``), so that rollups, VEE, the scan, alerts, close and field work cannot drift.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-24 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A table function rather than a scalar one: PostgreSQL inlines a single-SELECT SQL function
# in FROM into the calling query (so ``JOIN meter_timezone(...) tz ON tz.meter_id = m.id`` costs
# a few joins), whereas a scalar function doing lookups runs once per row (measured: 40-190 us
# per meter, seconds for a fleet-wide field round).
# Ref: https://wiki.postgresql.org/wiki/Inlining_of_SQL_functions
METER_TIMEZONE = """
CREATE FUNCTION meter_timezone(default_country text)
RETURNS TABLE (meter_id integer, timezone text)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT m.id, coalesce(z.timezone, zc.timezone, dc.timezone, 'UTC')
    FROM meter m
    LEFT JOIN dwelling d ON d.id = m.dwelling_id
    LEFT JOIN building b ON b.id = d.building_id
    LEFT JOIN zone z ON z.id = b.zone_id
    LEFT JOIN country zc ON zc.code = z.country_code
    LEFT JOIN country dc ON dc.code = default_country
$$
"""

METER_TIMEZONE_COMMENT = """
COMMENT ON FUNCTION meter_timezone(text) IS
'Every meter''s local time zone (IANA), the one rule that cuts local days and nights: its
dwelling''s zone''s own time zone, else that zone''s country''s, else (no dwelling) the
deployment''s default country''s (the argument; NULL when unknown), else UTC.'
"""

TAMPER_HOLD = """
CREATE VIEW tamper_hold AS
SELECT i.meter_id, i.id AS incident_id, i.started_at, i.ended_at
FROM incident i
WHERE i.kind = 'tamper' AND i.status <> 'closed'
"""

TAMPER_HOLD_COMMENT = """
COMMENT ON VIEW tamper_hold IS
'Tamper windows that hold billing: a meter''s register is not billed for any period that
overlaps [started_at, ended_at) (ended_at NULL: still going). A resolved alarm still holds the
periods it touched; an operator''s closed (a false alarm) does not.'
"""


def upgrade() -> None:
    op.execute(METER_TIMEZONE)
    op.execute(METER_TIMEZONE_COMMENT)
    op.execute(TAMPER_HOLD)
    op.execute(TAMPER_HOLD_COMMENT)


def downgrade() -> None:
    op.execute("DROP VIEW tamper_hold")
    op.execute("DROP FUNCTION meter_timezone(text)")
