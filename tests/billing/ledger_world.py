"""A small billed world for the payments, notices, penalties and reports tests.

Cameroon (XAF, no decimals): building A with dwellings A1 (French-speaking tenant) and A2
(English-speaking tenant), building B with B1 (Tok Pisin), one tariff (penalty 10 % + 100
FCFA), periods 2026-09 and 2026-10. Invoices are inserted issued, as the close would leave
them, with the figures each test wants.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date
from typing import Any

_numbers = itertools.count(1)


@dataclass
class Ledger:
    db: Any  # psycopg.Connection, untyped rows: every query here returns one
    zone: int
    tariff: int
    buildings: dict[str, int]
    dwellings: dict[str, int]
    users: dict[str, int]
    phones: dict[str, str]
    periods: dict[str, int] = field(default_factory=dict)
    # dwelling -> (country, currency, tariff) when not Cameroon's (``add_png_home``)
    billed_in: dict[str, tuple[str, str, int]] = field(default_factory=dict)

    def add_png_home(self) -> str:
        """Dwelling P1 in Port Moresby (PGK, a Tok Pisin tenant), with a PNG tariff."""
        zone = self.db.execute(
            "INSERT INTO zone (country_code, code, name, timezone) VALUES ('PG', 'POM',"
            " 'Port Moresby', 'Pacific/Port_Moresby') RETURNING id"
        ).fetchone()[0]
        building = self.db.execute(
            "INSERT INTO building (zone_id, name) VALUES (%s, 'P') RETURNING id", [zone]
        ).fetchone()[0]
        self.dwellings["P1"] = self.db.execute(
            "INSERT INTO dwelling (building_id, reference, dwelling_type)"
            " VALUES (%s, 'P1', 'apartment') RETURNING id",
            [building],
        ).fetchone()[0]
        self.phones["P1"] = "+67570123456"
        self.users["P1"] = self.db.execute(
            "INSERT INTO app_user (phone, first_name, last_name, language, role, is_active,"
            " password_hash) VALUES (%s, 'Tenant', 'P1', 'tpi', 'customer', true, 'x')"
            " RETURNING id",
            [self.phones["P1"]],
        ).fetchone()[0]
        self.db.execute(
            "INSERT INTO dwelling_occupant (user_id, dwelling_id, relation, start_date)"
            " VALUES (%s, %s, 'tenant', '2020-01-01')",
            [self.users["P1"], self.dwellings["P1"]],
        )
        tariff = self.db.execute(
            "INSERT INTO tariff (country_code, currency, effective_from, vat_pct,"
            " service_fee_minor, penalty_pct, penalty_fixed_minor) VALUES ('PG', 'PGK',"
            " '2026-01-01', 10, 200, 5, 0) RETURNING id"
        ).fetchone()[0]
        self.billed_in["P1"] = ("PG", "PGK", tariff)
        return "P1"

    def period(self, label: str, start: date, end: date) -> int:
        if label not in self.periods:
            self.periods[label] = self.db.execute(
                "INSERT INTO billing_period (label, start_date, end_date) VALUES (%s, %s, %s)"
                " RETURNING id",
                [label, start, end],
            ).fetchone()[0]
        return self.periods[label]

    def invoice(
        self,
        dwelling: str,
        *,
        net: int,
        vat: int = 0,
        period: str = "2026-10",
        issue_date: date = date(2026, 11, 2),
        due_date: date = date(2026, 11, 30),
        volume_l: int = 10_000,
        status: str = "issued",
    ) -> int:
        country, currency, tariff = self.billed_in.get(dwelling, ("CM", "XAF", self.tariff))
        year, month = (int(x) for x in period.split("-"))
        start = date(year, month, 1)
        end = date(year + month // 12, month % 12 + 1, 1)
        period_id = self.period(period, start, date.fromordinal(end.toordinal() - 1))
        number = None if status == "draft" else f"{country}-2026-{next(_numbers):06d}"
        return int(
            self.db.execute(
                "INSERT INTO invoice (number, kind, status, period_id, dwelling_id, customer_id,"
                " country_code, currency, tariff_id, dwelling_type, period_days, volume_l,"
                " net_minor, vat_minor, total_minor, issue_date, due_date, issued_at, void_reason)"
                " VALUES (%s, 'periodic', %s, %s, %s, %s, %s, %s, %s, 'apartment', 30, %s,"
                " %s, %s, %s, %s, %s, CASE WHEN %s <> 'draft' THEN %s::timestamptz END,"
                " CASE WHEN %s = 'void' THEN 'test' END)"
                " RETURNING id",
                [
                    number,
                    status,
                    period_id,
                    self.dwellings[dwelling],
                    self.users[dwelling],
                    country,
                    currency,
                    tariff,
                    volume_l,
                    net,
                    vat,
                    net + vat,
                    issue_date,
                    due_date,
                    status,
                    f"{issue_date}T08:00Z",
                    status,
                ],
            ).fetchone()[0]
        )

    def invoice_row(self, invoice_id: int) -> Any:
        return self.db.execute(
            "SELECT status::text, paid_minor FROM invoice WHERE id = %s", [invoice_id]
        ).fetchone()

    def inconsistencies(self) -> Any:
        """Payments and invoices whose kept totals differ from the sum of their allocations."""
        return self.db.execute(
            "SELECT 'payment', p.id FROM payment p WHERE p.allocated_minor <> COALESCE((SELECT"
            " sum(a.amount_minor) FROM payment_allocation a WHERE a.payment_id = p.id), 0)"
            " UNION ALL SELECT 'invoice', i.id FROM invoice i WHERE i.paid_minor <> COALESCE(("
            "SELECT sum(a.amount_minor) FROM payment_allocation a WHERE a.invoice_id = i.id), 0)"
        ).fetchall()

    def allocations(self) -> Any:
        return self.db.execute(
            "SELECT payment_id, invoice_id, amount_minor FROM payment_allocation"
            " ORDER BY payment_id, invoice_id"
        ).fetchall()


def arrange(db: Any) -> Ledger:
    zone = db.execute(
        "INSERT INTO zone (country_code, code, name) VALUES ('CM', 'DLA', 'Douala') RETURNING id"
    ).fetchone()[0]
    buildings = {
        name: db.execute(
            "INSERT INTO building (zone_id, name) VALUES (%s, %s) RETURNING id", [zone, name]
        ).fetchone()[0]
        for name in ("A", "B")
    }
    dwellings: dict[str, int] = {}
    users: dict[str, int] = {}
    phones: dict[str, str] = {}
    for n, (ref, building, language) in enumerate(
        (("A1", "A", "fr"), ("A2", "A", "en"), ("B1", "B", "tpi"))
    ):
        dwellings[ref] = db.execute(
            "INSERT INTO dwelling (building_id, reference, dwelling_type)"
            " VALUES (%s, %s, 'apartment') RETURNING id",
            [buildings[building], ref],
        ).fetchone()[0]
        phones[ref] = f"+2376700000{n:02d}"
        users[ref] = db.execute(
            "INSERT INTO app_user (phone, first_name, last_name, language, role, is_active,"
            " password_hash) VALUES (%s, 'Tenant', %s, %s, 'customer', true, 'x') RETURNING id",
            [phones[ref], ref, language],
        ).fetchone()[0]
        db.execute(
            "INSERT INTO dwelling_occupant (user_id, dwelling_id, relation, start_date)"
            " VALUES (%s, %s, 'tenant', '2020-01-01')",
            [users[ref], dwellings[ref]],
        )
    tariff = db.execute(
        "INSERT INTO tariff (country_code, currency, effective_from, vat_pct, service_fee_minor,"
        " penalty_pct, penalty_fixed_minor) VALUES ('CM', 'XAF', '2026-01-01', 19.25, 500, 10,"
        " 100) RETURNING id"
    ).fetchone()[0]
    db.execute(
        "INSERT INTO tariff_block (tariff_id, position, upper_m3, price_per_m3)"
        " VALUES (%s, 1, 10, 365), (%s, 2, NULL, 550)",
        [tariff, tariff],
    )
    db.execute(
        "INSERT INTO tariff_subscription (tariff_id, dwelling_type, monthly_minor)"
        " SELECT %s, unnest(enum_range(NULL::dwelling_type)), 1000",
        [tariff],
    )
    return Ledger(
        db=db,
        zone=zone,
        tariff=tariff,
        buildings=buildings,
        dwellings=dwellings,
        users=users,
        phones=phones,
    )


def settle(db: Any, invoice_id: int, amount_minor: int | None = None) -> None:
    """Pay ``amount_minor`` (default: the total) of an invoice in cash, with the evidence the
    database asks for: a payment and its allocation, then the invoice's paid amount and state."""
    with db.transaction():
        row = db.execute(
            "SELECT dwelling_id, currency, total_minor FROM invoice WHERE id = %s", [invoice_id]
        ).fetchone()
        amount = row[2] if amount_minor is None else amount_minor
        payment = db.execute(
            "INSERT INTO payment (dwelling_id, method, status, amount_minor, allocated_minor,"
            " currency, reference, received_at) VALUES (%s, 'cash', 'succeeded', %s, %s, %s,"
            " %s, now()) RETURNING id",
            [row[0], amount, amount, row[1], f"SETTLE-{invoice_id}-{next(_numbers)}"],
        ).fetchone()[0]
        db.execute(
            "INSERT INTO payment_allocation (payment_id, invoice_id, amount_minor)"
            " VALUES (%s, %s, %s)",
            [payment, invoice_id, amount],
        )
        db.execute(
            "UPDATE invoice SET paid_minor = paid_minor + %s, status = CASE"
            " WHEN paid_minor + %s >= total_minor THEN 'paid' ELSE 'partially_paid'"
            " END::invoice_status, paid_at = now() WHERE id = %s",
            [amount, amount, invoice_id],
        )
