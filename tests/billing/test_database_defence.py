"""The database defends the record against its own application (issue 14, hole 10): each attack
an outside probe made as the application's connection, now made as the runtime role
``waterbill_app``, fails; the daily work (payments, readings in a new chunk) still passes."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import psycopg
import pytest

from tests.billing.ledger_world import Ledger, arrange, settle

pytestmark = pytest.mark.services

RUNTIME = "waterbill_app"


@pytest.fixture
def ledger(db) -> Ledger:
    return arrange(db)


@contextmanager
def as_runtime(db: psycopg.Connection) -> Iterator[psycopg.Connection]:
    """One transaction as the runtime role (privileges checked as it, deferred checks at the
    end): what the API, jobs and ingest connect as in a deployment."""
    with db.transaction():
        db.execute(f"SET LOCAL ROLE {RUNTIME}")
        yield db


def attempt(db: psycopg.Connection, statement: str, *params: object) -> None:
    with as_runtime(db) as conn:
        conn.execute(statement, params or None)


class TestThePrivilegesOfTheRuntimeRole:
    @pytest.mark.parametrize(
        "statement",
        [
            "TRUNCATE invoice CASCADE",
            "TRUNCATE payment_allocation",
            "ALTER TABLE invoice DISABLE TRIGGER invoice_immutable",
            "ALTER TABLE invoice DISABLE TRIGGER ALL",
            "SET session_replication_role = replica",
            "DROP TRIGGER invoice_immutable ON invoice",
            "CREATE TABLE shadow (id int)",
            "DROP TABLE audit_log",
            "DELETE FROM payment_allocation",
            "UPDATE audit_log SET id = id",
            "SELECT setval(pg_get_serial_sequence('invoice', 'id'), 1)",
        ],
    )
    def test_what_no_application_bug_may_do_is_refused(self, db, ledger, statement):
        invoice = ledger.invoice("A1", net=5_000)
        settle(db, invoice)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            attempt(db, statement)
        assert ledger.invoice_row(invoice) == ("paid", 5_000)
        assert len(ledger.allocations()) == 1

    def test_the_daily_work_passes(self, db, ledger):
        invoice = ledger.invoice("A2", net=3_000)
        meter = db.execute(
            "INSERT INTO meter (serial, kind, installed_at) VALUES ('WB-RT-1', 'iot', %s)"
            " RETURNING id",
            [datetime(2020, 1, 1, tzinfo=UTC)],
        ).fetchone()[0]
        with as_runtime(db) as conn:
            settle(conn, invoice, 1_000)
            # A reading years away from any other: TimescaleDB makes its chunk for this role.
            conn.execute(
                "INSERT INTO reading (meter_id, time, source, index_l, received_at)"
                " VALUES (%s, '2031-06-01T00:00Z', 'iot', 1, now())",
                [meter],
            )
        assert ledger.invoice_row(invoice) == ("partially_paid", 1_000)


class TestInvoiceStatesNeedTheirEvidence:
    def test_an_issued_invoice_cannot_be_set_paid_without_a_payment(self, db, ledger):
        invoice = ledger.invoice("A1", net=5_000)
        with pytest.raises(psycopg.DatabaseError, match="allocations add up to 0"):
            attempt(
                db, "UPDATE invoice SET status = 'paid', paid_minor = 5000 WHERE id = %s", invoice
            )
        with pytest.raises(psycopg.DatabaseError, match="is paid with 0 paid of 5000"):
            attempt(db, "UPDATE invoice SET status = 'paid' WHERE id = %s", invoice)
        assert ledger.invoice_row(invoice) == ("issued", 0)

    def test_a_paid_invoice_cannot_be_voided(self, db, ledger):
        invoice = ledger.invoice("A1", net=5_000)
        settle(db, invoice)
        with pytest.raises(psycopg.DatabaseError, match="cannot go from paid to void"):
            attempt(
                db,
                "UPDATE invoice SET status = 'void', void_reason = 'x' WHERE id = %s",
                invoice,
            )
        assert ledger.invoice_row(invoice) == ("paid", 5_000)

    def test_a_paid_invoice_cannot_be_rewound_to_unpaid_behind_its_allocations(self, db, ledger):
        invoice = ledger.invoice("A1", net=5_000)
        settle(db, invoice)
        with pytest.raises(psycopg.DatabaseError, match="allocations add up to 5000"):
            attempt(
                db,
                "UPDATE invoice SET status = 'partially_paid', paid_minor = 0 WHERE id = %s",
                invoice,
            )

    def test_an_allocation_must_show_on_its_invoice(self, db, ledger):
        invoice = ledger.invoice("A1", net=5_000)
        settle(db, invoice, 1_000)
        with pytest.raises(psycopg.DatabaseError, match="allocations add up to 6000"):
            attempt(
                db,
                "UPDATE payment_allocation SET amount_minor = 6000 WHERE invoice_id = %s",
                invoice,
            )

    def test_invoice_numbers_never_go_back(self, db):
        db.execute(
            "INSERT INTO invoice_number_sequence (country_code, year, last_number)"
            " VALUES ('CM', 2031, 42)"
        )
        with pytest.raises(psycopg.DatabaseError, match="cannot go back from 42 to 7"):
            attempt(
                db,
                "UPDATE invoice_number_sequence SET last_number = 7"
                " WHERE country_code = 'CM' AND year = 2031",
            )
        attempt(
            db,
            "UPDATE invoice_number_sequence SET last_number = 43"
            " WHERE country_code = 'CM' AND year = 2031",
        )
