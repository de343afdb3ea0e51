"""The database defends the record: a runtime role with only what the application needs, and
invoice states that move only along allowed transitions, with their evidence.

``waterbill_app`` is a group role (NOLOGIN): a deployment's login roles for the API, the jobs and
ingest are made members of it (``docs/deploy.md``), while migrations keep running as the owner.
It may read and write rows, and nothing else: no TRUNCATE, no DDL, no trigger control (that
needs ownership), no ``setval`` (sequences: USAGE and SELECT only), no DELETE of payment
allocations or audit rows. Roles are cluster-wide, so the role is made only if missing, and the
downgrade revokes this database's grants but leaves the role to the other databases using it.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 19:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUNTIME = "waterbill_app"
# Rows the application appends and never rewrites.
APPEND_ONLY = ("payment_allocation", "audit_log")
# SQLSTATE of a forbidden state change (billing maps WB001 to 409 already: same family).
STATE_SQLSTATE = "WB002"

CREATE_ROLE = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{RUNTIME}') THEN
        CREATE ROLE {RUNTIME} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
END $$
"""

# Allowed (from, to) status moves of an invoice; staying put is always allowed. A paid invoice
# opens again only when an approved late penalty raises what it owes (the evidence check below).
TRANSITIONS = {
    "draft": ("issued",),
    "issued": ("partially_paid", "paid", "overdue", "void"),
    "partially_paid": ("paid", "overdue"),
    "overdue": ("paid", "void"),
    "paid": ("partially_paid", "overdue"),
    "void": (),
}

_ALLOWED = ", ".join(f"('{a}', '{b}')" for a, targets in TRANSITIONS.items() for b in targets)

STATE_GUARD = f"""
CREATE FUNCTION invoice_state_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status <> NEW.status
       AND (OLD.status::text, NEW.status::text) NOT IN ({_ALLOWED}) THEN
        RAISE EXCEPTION 'invoice % cannot go from % to %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = '{STATE_SQLSTATE}';
    END IF;
    RETURN NEW;
END $$
"""

# Checked at commit (deferred), when the allocations and the invoice row of one payment have
# both been written, whatever their order: what an invoice says it was paid is what its
# allocations add up to, and "paid" needs them to cover what it owes (approved penalty included;
# a credit note, negative, is owed nothing and stays "issued").
EVIDENCE_GUARD = f"""
CREATE FUNCTION invoice_evidence_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    inv record;
    allocated bigint;
    owed bigint;
BEGIN
    SELECT i.id, i.status::text AS status, i.paid_minor, i.total_minor INTO inv
    FROM invoice i WHERE i.id = NEW.{{column}};
    IF inv.id IS NULL OR inv.status IN ('draft', 'void') THEN
        RETURN NULL;
    END IF;
    SELECT COALESCE(sum(a.amount_minor), 0) INTO allocated
    FROM payment_allocation a WHERE a.invoice_id = inv.id;
    SELECT inv.total_minor + COALESCE(sum(lp.amount_minor), 0) INTO owed
    FROM late_penalty lp WHERE lp.invoice_id = inv.id AND lp.status = 'approved';
    IF inv.paid_minor <> allocated THEN
        RAISE EXCEPTION 'invoice % says % paid but its allocations add up to %',
            inv.id, inv.paid_minor, allocated USING ERRCODE = '{STATE_SQLSTATE}';
    END IF;
    IF inv.status = 'paid' AND inv.paid_minor < owed THEN
        RAISE EXCEPTION 'invoice % is % with % paid of % owed',
            inv.id, inv.status, inv.paid_minor, owed USING ERRCODE = '{STATE_SQLSTATE}';
    END IF;
    RETURN NULL;
END $$
"""

SEQUENCE_GUARD = f"""
CREATE FUNCTION invoice_number_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.last_number < OLD.last_number THEN
        RAISE EXCEPTION 'invoice numbers of % % cannot go back from % to %',
            OLD.country_code, OLD.year, OLD.last_number, NEW.last_number
            USING ERRCODE = '{STATE_SQLSTATE}';
    END IF;
    RETURN NEW;
END $$
"""


def upgrade() -> None:
    op.execute(CREATE_ROLE)
    op.execute(f"GRANT USAGE ON SCHEMA public TO {RUNTIME}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {RUNTIME}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {RUNTIME}")
    for table in APPEND_ONLY:
        op.execute(f"REVOKE UPDATE, DELETE ON {table} FROM {RUNTIME}")
    # The allocation of a payment grows when the same payment pays the same invoice again.
    op.execute(f"GRANT UPDATE (amount_minor) ON payment_allocation TO {RUNTIME}")
    # Tables and sequences that later migrations make (run by the same owner) get the same.
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public"
        f" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {RUNTIME}"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {RUNTIME}"
    )
    op.execute(STATE_GUARD)
    op.execute(
        "CREATE TRIGGER invoice_state BEFORE UPDATE OF status ON invoice"
        " FOR EACH ROW EXECUTE FUNCTION invoice_state_guard()"
    )
    op.execute(EVIDENCE_GUARD.replace("{column}", "id"))
    op.execute(
        "CREATE CONSTRAINT TRIGGER invoice_evidence AFTER INSERT OR UPDATE ON invoice"
        " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION invoice_evidence_guard()"
    )
    op.execute(
        EVIDENCE_GUARD.replace("invoice_evidence_guard", "allocation_evidence_guard").replace(
            "{column}", "invoice_id"
        )
    )
    op.execute(
        "CREATE CONSTRAINT TRIGGER allocation_evidence AFTER INSERT OR UPDATE"
        " ON payment_allocation DEFERRABLE INITIALLY DEFERRED FOR EACH ROW"
        " EXECUTE FUNCTION allocation_evidence_guard()"
    )
    op.execute(SEQUENCE_GUARD)
    op.execute(
        "CREATE TRIGGER invoice_number_forward BEFORE UPDATE ON invoice_number_sequence"
        " FOR EACH ROW EXECUTE FUNCTION invoice_number_forward()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER invoice_number_forward ON invoice_number_sequence")
    op.execute("DROP FUNCTION invoice_number_forward()")
    op.execute("DROP TRIGGER allocation_evidence ON payment_allocation")
    op.execute("DROP FUNCTION allocation_evidence_guard()")
    op.execute("DROP TRIGGER invoice_evidence ON invoice")
    op.execute("DROP FUNCTION invoice_evidence_guard()")
    op.execute("DROP TRIGGER invoice_state ON invoice")
    op.execute("DROP FUNCTION invoice_state_guard()")
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE, SELECT ON SEQUENCES"
        f" FROM {RUNTIME}"
    )
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public"
        f" REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM {RUNTIME}"
    )
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {RUNTIME}")
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {RUNTIME}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {RUNTIME}")
