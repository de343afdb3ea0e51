"""Reports and the accounting export against figures computed by hand.

The ledger (XAF), payments allocated oldest invoice first:

=========  =========  ==========  ==========  ======  =============================
dwelling   period     issued      due         total   paid
=========  =========  ==========  ==========  ======  =============================
A1         2026-09    2026-10-02  2026-10-20   6,000  6,000 (cash 8,000: Sep first)
A1         2026-10    2026-11-02  2026-11-30  11,925  2,000 (net 10,000 + VAT 1,925)
A2         2026-09    2026-10-02  2026-10-20   1,000  1,000 (bank 5,000)
A2         2026-10    2026-11-02  2026-11-30   5,000  4,000
A2         2026-11    2026-12-20  2027-01-05     900  0
B1         2026-08    2026-09-02  2026-09-20   4,000  0
B1         2026-07    2026-10-25  2026-11-10     700  0
B1         2026-10    2026-11-02  2026-11-30   3,000  0
=========  =========  ==========  ==========  ======  =============================

As of 2026-12-25: billed 32,525, collected 13,000 (rate 0.3997); unpaid 19,525 = not due 900
(A2 Nov) + 0-30 days 13,925 (the three October invoices, 25 days late) + 31-60 700 (B1 Jul,
45 days) + 61-90 0 (the September ones are paid) + over 90 4,000 (B1 Aug, 96 days).
"""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from billing.payments import service as payments
from billing.payments.providers import PaymentMethod
from billing.reports import service as reports
from billing.reports.schemas import Collection, DwellingMonth, LedgerLine
from core.config_billing import AccountingSettings
from core.db import make_async_engine
from tests.billing.ledger_world import Ledger, arrange

pytestmark = pytest.mark.services

AS_OF = date(2026, 12, 25)
# Payments are received at a fixed instant inside the November export, whatever today is.
RECEIVED = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


@pytest.fixture
async def engine(settings):
    engine = make_async_engine(settings)
    yield engine
    await engine.dispose()


@pytest.fixture
async def ledger(db, engine) -> Ledger:
    ledger = arrange(db)
    ledger.invoice(
        "A1",
        net=6_000,
        period="2026-09",
        issue_date=date(2026, 10, 2),
        due_date=date(2026, 10, 20),
        volume_l=8_000,
    )
    ledger.invoice("A1", net=10_000, vat=1_925, volume_l=12_500)
    ledger.invoice(
        "A2", net=1_000, period="2026-09", issue_date=date(2026, 10, 2), due_date=date(2026, 10, 20)
    )
    ledger.invoice("A2", net=5_000, volume_l=4_000)
    ledger.invoice(
        "A2", net=900, period="2026-11", issue_date=date(2026, 12, 20), due_date=date(2027, 1, 5)
    )
    ledger.invoice(
        "B1", net=4_000, period="2026-08", issue_date=date(2026, 9, 2), due_date=date(2026, 9, 20)
    )
    ledger.invoice(
        "B1", net=700, period="2026-07", issue_date=date(2026, 10, 25), due_date=date(2026, 11, 10)
    )
    ledger.invoice("B1", net=3_000, volume_l=2_000)
    for dwelling, amount, method in (
        ("A1", 8_000, PaymentMethod.CASH),
        ("A2", 5_000, PaymentMethod.BANK_TRANSFER),
    ):
        async with AsyncSession(engine) as session, session.begin():
            await payments.record_payment(
                session,
                dwelling_id=ledger.dwellings[dwelling],
                method=method,
                amount=Decimal(amount),
                currency="XAF",
                now=RECEIVED,
                recorded_by=None,
            )
    return ledger


class TestBuildingMonth:
    async def test_each_dwelling_with_its_consumption_and_amounts(self, session, ledger):
        rows = await reports.building_month(
            session, building_id=ledger.buildings["A"], month=date(2026, 10, 17)
        )
        assert rows == [
            DwellingMonth(ledger.dwellings["A1"], "A1", 1, 12_500, 11_925, 2_000, 9_925, "XAF"),
            DwellingMonth(ledger.dwellings["A2"], "A2", 1, 4_000, 5_000, 4_000, 1_000, "XAF"),
        ]

    async def test_a_month_without_invoices_lists_the_dwellings_with_zeros(self, session, ledger):
        rows = await reports.building_month(
            session, building_id=ledger.buildings["B"], month=date(2026, 6, 1)
        )
        assert rows == [DwellingMonth(ledger.dwellings["B1"], "B1", 0, 0, 0, 0, 0, None)]


class TestCollection:
    @pytest.mark.usefixtures("ledger")
    async def test_rate_and_ageing_over_everything(self, session):
        (row,) = await reports.collection(
            session, building_ids=None, start=date(2026, 9, 1), end=date(2026, 12, 31), as_of=AS_OF
        )
        assert row == Collection(
            currency="XAF",
            invoices=8,
            billed_minor=32_525,
            collected_minor=13_000,
            collection_rate=Decimal("0.3997"),
            not_due_minor=900,
            days_0_30_minor=13_925,
            days_31_60_minor=700,
            days_61_90_minor=0,
            days_over_90_minor=4_000,
        )

    async def test_a_manager_sees_only_their_buildings(self, session, ledger):
        (row,) = await reports.collection(
            session,
            building_ids=[ledger.buildings["A"]],
            start=date(2026, 9, 1),
            end=date(2026, 12, 31),
            as_of=AS_OF,
        )
        assert (row.invoices, row.billed_minor, row.collected_minor) == (5, 24_825, 13_000)
        assert (row.not_due_minor, row.days_0_30_minor, row.days_over_90_minor) == (900, 10_925, 0)

    @pytest.mark.usefixtures("ledger")
    async def test_before_any_payment_nothing_is_collected(self, session):
        (row,) = await reports.collection(
            session,
            building_ids=None,
            start=date(2026, 9, 1),
            end=date(2026, 12, 31),
            as_of=date(2026, 11, 1),
        )
        # Issued by Nov 1: the Aug, Sep and Jul invoices (4,000 + 6,000 + 1,000 + 700).
        assert (row.invoices, row.billed_minor, row.collected_minor) == (4, 11_700, 0)


class TestRevenue:
    @pytest.mark.usefixtures("ledger")
    async def test_billed_by_issue_month_and_collected_by_receipt_month(self, session):
        rows = await reports.revenue(
            session, building_ids=None, start=date(2026, 9, 1), end=date(2026, 12, 31)
        )
        collected = {date(2026, 11, 1): 13_000}
        assert [(r.month, r.invoices, r.net_minor, r.vat_minor, r.billed_minor) for r in rows] == [
            (date(2026, 9, 1), 1, 4_000, 0, 4_000),
            (date(2026, 10, 1), 3, 7_700, 0, 7_700),
            (date(2026, 11, 1), 3, 18_000, 1_925, 19_925),
            (date(2026, 12, 1), 1, 900, 0, 900),
        ]
        assert {r.month: r.collected_minor for r in rows if r.collected_minor} == collected


def parse_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


class TestAccountingExport:
    async def test_one_line_per_invoice_penalty_and_payment_with_account_codes(
        self, session, ledger
    ):
        b1_august = ledger.db.execute(
            "SELECT id FROM invoice WHERE dwelling_id = %s AND issue_date = '2026-09-02'",
            [ledger.dwellings["B1"]],
        ).fetchone()[0]
        ledger.db.execute(
            "INSERT INTO late_penalty (invoice_id, overdue_minor, amount_minor, currency, status,"
            " decided_at) VALUES (%s, 4000, 500, 'XAF', 'approved', '2026-11-25T10:00Z')",
            [b1_august],
        )
        accounts = AccountingSettings(cash_account="5301", bank_account="5121")
        lines = await reports.accounting_export(
            session,
            building_ids=None,
            start=date(2026, 11, 1),
            end=date(2026, 11, 30),
            accounts=accounts,
        )
        summary = sorted((ln.entry, ln.debit_account, ln.credit_account, ln.amount) for ln in lines)
        assert summary == sorted(
            [
                ("invoice", "411000", "706000", "11925"),
                ("invoice", "411000", "706000", "5000"),
                ("invoice", "411000", "706000", "3000"),
                ("penalty", "411000", "763000", "500"),
                ("payment", "5301", "411000", "8000"),
                ("payment", "5121", "411000", "5000"),
            ]
        )
        a1 = next(ln for ln in lines if ln.amount == "11925")
        assert (a1.net, a1.vat, a1.vat_account, a1.journal) == ("10000", "1925", "445710", "VT")
        assert {ln.journal for ln in lines if ln.entry == "payment"} == {"BQ"}

        csv_rows = parse_csv(reports.to_csv(lines, LedgerLine))
        root = ET.fromstring(
            reports.ledger_xml(lines, start=date(2026, 11, 1), end=date(2026, 11, 30))
        )
        xml_rows = [
            {child.tag.replace("-", "_"): child.text or "" for child in entry}
            for entry in root.findall("entry")
        ]
        assert root.attrib == {"from": "2026-11-01", "to": "2026-11-30"}
        assert csv_rows == xml_rows
        assert len(csv_rows) == 6
        assert csv_rows[0].keys() == set(LedgerLine.__dataclass_fields__)

    async def test_an_empty_export_still_has_its_header(self):
        assert reports.to_csv([], LedgerLine).startswith("entry,date,journal,document")


class TestReportsApi:
    @pytest.mark.usefixtures("ledger")
    async def test_json_and_csv_agree(self, admin_client):
        params = {"start": "2026-09-01", "end": "2026-12-31", "as_of": "2026-12-25"}
        as_json = (await admin_client.get("/reports/collection", params=params)).json()
        answer = await admin_client.get("/reports/collection", params={**params, "format": "csv"})
        assert answer.headers["content-type"].startswith("text/csv")
        (row,) = parse_csv(answer.text)
        assert row["billed_minor"] == "32525" == str(as_json[0]["billed_minor"])
        assert row["collection_rate"] == "0.3997"

    async def test_the_monthly_building_report_as_csv(self, admin_client, ledger):
        answer = await admin_client.get(
            f"/reports/buildings/{ledger.buildings['A']}/monthly",
            params={"month": "2026-10-01", "format": "csv"},
        )
        assert answer.status_code == 200, answer.text
        rows = parse_csv(answer.text)
        assert [(r["reference"], r["paid_minor"], r["unpaid_minor"]) for r in rows] == [
            ("A1", "2000", "9925"),
            ("A2", "4000", "1000"),
        ]

    @pytest.mark.usefixtures("ledger")
    async def test_the_export_as_xml(self, admin_client):
        answer = await admin_client.get(
            "/reports/accounting-export",
            params={"start": "2026-11-01", "end": "2026-11-30", "format": "xml"},
        )
        assert answer.headers["content-type"] == "application/xml"
        entries = ET.fromstring(answer.content).findall("entry")
        assert sorted(e.findtext("entry", "") for e in entries) == ["invoice"] * 3 + ["payment"] * 2

    @pytest.mark.usefixtures("ledger")
    async def test_reversed_bounds_are_a_422(self, admin_client):
        answer = await admin_client.get(
            "/reports/revenue", params={"start": "2026-12-01", "end": "2026-09-01"}
        )
        assert answer.status_code == 422
        assert answer.json()["detail"] == "end 2026-09-01 is before start 2026-12-01"
