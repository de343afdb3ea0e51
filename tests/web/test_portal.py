"""The customer portal in a real browser, checked against the database."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from playwright.async_api import Page, expect

from billing.invoices.pdf_text import MONTHS
from core.countries import Language
from core.money import Money, format_amount, get_currency
from tests import clock
from tests.web.conftest import Estate, LiveServer, Person, api_token, screenshots, sign_in

pytestmark = [pytest.mark.services, pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

# The estate and the browser are in Douala: its day, not UTC's, is "today" on the page.
DOUALA = "Africa/Douala"


def daily_use(day: date) -> int:
    """Litres used on ``day``: a weekly pattern, more last year than this year."""
    return (180 if day.year < clock.today_in(DOUALA).year else 120) + 15 * day.weekday()


def two_years_of_readings(estate: Estate, meter_id: int) -> None:
    start = date(clock.today_in(DOUALA).year - 1, 1, 1)
    index, rows = 0, []
    for offset in range((clock.today_in(DOUALA) - start).days + 1):
        day = start + timedelta(days=offset)
        rows.append(
            (datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(hours=1), index)
        )
        index += daily_use(day)
    estate.readings(meter_id, rows)


def fcfa(minor: int, language: str = "en") -> str:
    """An XAF amount as the server writes it in ``language`` (what the page must show)."""
    xaf = get_currency("XAF")
    return format_amount(Money.from_minor(minor, xaf).amount, xaf, language)


def add_tariff(live_server: LiveServer, admin: Person) -> None:
    """Cameroon's tariff in force since January, through the API (it prices the estimate)."""
    answer = httpx.post(
        f"{live_server.url}/tariffs",
        json={
            "country_code": "CM",
            "effective_from": f"{clock.today_in(DOUALA).year}-01-01",
            "allow_backdated": True,
            "blocks": [
                {"upper_m3": "10", "price_per_m3": "365"},
                {"upper_m3": None, "price_per_m3": "550"},
            ],
            "subscriptions": dict.fromkeys(
                ("apartment", "house", "commercial", "communal"), "1000"
            ),
            "service_fee": "500",
            "vat_pct": "19.25",
        },
        headers=api_token(live_server, admin),
    )
    assert answer.status_code == 201, answer.text


def m3(litres: int) -> str:
    return f"{litres / 1000:,.1f}\u00a0m³"


class TestHome:
    async def test_dwellings_and_this_year_against_last_year(
        self, page: Page, make_user, estate, db
    ):
        customer = make_user("customer", first_name="Ama")
        home = estate.home(customer, reference="B-12")
        estate.home(None, reference="NOT-MINE")
        two_years_of_readings(estate, home.meter_id)

        await sign_in(page, customer, expect_path="/portal")

        cards = page.locator("#dwellings li")
        await expect(cards).to_have_count(1)
        await expect(cards.first).to_contain_text("B-12")
        await expect(cards.first).to_contain_text(home.serial)
        today = clock.today_in(DOUALA)
        this_year, last_year = db.execute(
            "SELECT sum(volume_l) FILTER (WHERE day >= %(jan)s),"
            " sum(volume_l) FILTER (WHERE day < %(last_end)s AND day >= %(last_jan)s)"
            " FROM meter_daily WHERE meter_id = %(meter)s",
            {
                "meter": home.meter_id,
                "jan": date(today.year, 1, 1),
                "last_jan": date(today.year - 1, 1, 1),
                "last_end": date(today.year - 1 + today.month // 12, today.month % 12 + 1, 1),
            },
        ).fetchone()
        await expect(page.locator("#usage-total")).to_have_text(
            f"{m3(this_year)} so far this year, {m3(last_year)} over the same months last year."
        )
        await expect(page.locator("svg.chart rect.bar")).to_have_count(12 + today.month)
        await page.get_by_text("Show the figures").click()
        january = page.locator(".chart-data tbody tr").first
        jan_last, jan_this = db.execute(
            "SELECT sum(volume_l) FILTER (WHERE day < %(y1)s),"
            " sum(volume_l) FILTER (WHERE day >= %(y1)s)"
            " FROM meter_daily WHERE meter_id = %(m)s AND extract(month FROM day) = 1",
            {"m": home.meter_id, "y1": date(today.year, 1, 1)},
        ).fetchone()
        await expect(january.locator("td")).to_have_text(
            [f"{jan_last / 1000:,.1f}", f"{jan_this / 1000:,.1f}"]
        )
        await screenshots(page, "portal-home")

    async def test_nothing_before_the_first_reading_and_estimated_days_marked(
        self, page: Page, make_user, estate
    ):
        """The meter was installed in 2020 but first read 75 days ago: no month before that
        reading gets a bar (the rollup interpolates back to the installation), and the month
        with five unread days shows them as estimated."""
        customer = make_user("customer")
        home = estate.home(customer)
        today = clock.today_in(DOUALA)
        first = today - timedelta(days=75)
        gap = {first + timedelta(days=n) for n in range(30, 35)}
        rows, index = [], 50_000
        for offset in range(76):
            day = first + timedelta(days=offset)
            index += 200
            if day not in gap:
                rows.append((datetime(day.year, day.month, day.day, 12, tzinfo=UTC), index))
        estate.readings(home.meter_id, rows)

        await sign_in(page, customer, expect_path="/portal")
        months = (today.year - first.year) * 12 + today.month - first.month + 1
        await expect(page.locator("svg.chart rect.bar")).to_have_count(months)
        # The month of the first reading (its day starts before it) and of the five unread days
        # are marked; this month, read every day, is not.
        assert await page.locator("svg.chart rect.bar.estimated").count() >= 1
        current = page.locator("svg.chart rect.bar.this-year").last
        await expect(current).not_to_have_class(re.compile(r"\bestimated\b"))
        await expect(page.locator("svg.chart .tick.unit")).to_have_text("m³")
        await expect(page.locator("#usage-total")).to_have_text(re.compile(r"so far this year\.$"))
        await expect(page.locator("#usage-note")).to_contain_text("estimated days")
        await page.get_by_text("Show the figures").click()
        # 75 days never span the same month of two years: one table row per month.
        await expect(page.locator(".chart-data tbody tr")).to_have_count(months)
        await screenshots(page, "portal-home-first-reading")

    async def test_a_customer_without_dwelling_is_told_so(self, page: Page, make_user):
        await sign_in(page, make_user("customer"), expect_path="/portal")
        await expect(page.get_by_text("No dwelling is linked to your account yet")).to_be_visible()

    async def test_other_roles_are_kept_out(self, page: Page, make_user):
        await sign_in(page, make_user("technician"), expect_path="/technician")
        await page.goto("/portal")
        await expect(page.get_by_role("status")).to_have_text(
            "Your account may not open this page."
        )


class TestProfile:
    async def test_edit_names_and_language(self, page: Page, make_user, db):
        customer = make_user("customer")
        await sign_in(page, customer, expect_path="/portal")
        await page.get_by_role("link", name="My profile").click()
        await expect(page.get_by_label("Phone")).to_have_value(customer.phone)
        await page.get_by_label("First name").fill("Mireille")
        await page.get_by_label("Language of pages and SMS").select_option("fr")
        await screenshots(page, "portal-profile")
        await page.get_by_role("button", name="Save").click()
        await expect(page.locator("html")).to_have_attribute("lang", "fr")
        assert db.execute(
            "SELECT first_name, language FROM app_user WHERE id = %s", [customer.id]
        ).fetchone() == ("Mireille", "fr")

    async def test_data_export_downloads_my_data(self, page: Page, make_user):
        customer = make_user("customer", first_name="Export")
        await sign_in(page, customer, expect_path="/portal")
        await page.goto("/portal/profile")
        # The button works once the page has its session (from the cookie) and the profile.
        await expect(page.locator("#profile-form [name=first_name]")).to_have_value("Export")
        async with page.expect_download() as info:
            await page.get_by_role("button", name="Download my data").click()
        download = await info.value
        content = (await download.path()).read_text()
        assert customer.phone in content
        assert '"Export"' in content


class TestAlerts:
    async def test_open_anomalies_with_what_to_do(self, page: Page, make_user, estate):
        customer = make_user("customer")
        home = estate.home(customer)
        other = estate.home(None, reference="NOT-MINE")
        estate.incident(home.meter_id, "leak", started_at=datetime(2026, 3, 2, 1, tzinfo=UTC))
        estate.incident(
            home.meter_id, "burst", started_at=datetime(2026, 2, 1, tzinfo=UTC), status="resolved"
        )
        estate.incident(other.meter_id, "tamper", started_at=datetime(2026, 3, 1, tzinfo=UTC))
        await sign_in(page, customer, expect_path="/portal")
        alerts = page.locator("#alerts li")
        await expect(alerts).to_have_count(1)
        await expect(alerts.first).to_contain_text("Possible leak")
        await expect(alerts.first).to_contain_text("Since 2 Mar 2026")
        await expect(alerts.first).to_contain_text("Close every tap")

    async def test_no_open_alert_is_good_news(self, page: Page, make_user, estate):
        customer = make_user("customer")
        estate.home(customer)
        await sign_in(page, customer, expect_path="/portal")
        await expect(page.locator("#alerts")).to_have_text("No open alert. All looks normal.")


def _medium(day: date, language: str = "en") -> str:
    """A date as the pages write it (Intl medium style)."""
    if language == "fr":
        months = (
            "janv.",
            "févr.",
            "mars",
            "avr.",
            "mai",
            "juin",
            "juil.",
            "août",
            "sept.",
            "oct.",
            "nov.",
            "déc.",
        )
        return f"{day.day} {months[day.month - 1]} {day.year}"
    return f"{day.day} {day:%b %Y}"


class TestAway:
    async def test_declare_an_absence_and_be_told_about_wrong_dates(
        self, page: Page, make_user, estate, db
    ):
        customer = make_user("customer")
        home = estate.home(customer, reference="B-7")
        await sign_in(page, customer, expect_path="/portal")
        await page.get_by_role("link", name="My profile").click()
        section = page.locator("#away-section")
        await expect(section.get_by_role("heading")).to_have_text("Away from home")
        await expect(page.locator("#absences")).to_have_text("No absence declared.")
        start = clock.today_in("Africa/Douala") + timedelta(days=3)
        end = start + timedelta(days=14)
        await page.get_by_label("Leaving on").fill(end.isoformat())
        await page.get_by_label("Back on").fill(start.isoformat())
        await page.get_by_role("button", name="Declare my absence").click()
        await expect(page.locator("#to_date-error")).to_have_text(
            "The return date must not be before the departure."
        )
        await page.get_by_label("Leaving on").fill(start.isoformat())
        await page.get_by_label("Back on").fill(end.isoformat())
        await page.get_by_role("button", name="Declare my absence").click()
        await expect(page.get_by_role("status")).to_have_text("Absence declared.")
        await expect(page.locator("#absences li")).to_have_text(
            [f"B-7: away from {_medium(start)} to {_medium(end)} Cancel"]
        )
        assert db.execute(
            "SELECT from_date, to_date, source::text, declared_by FROM dwelling_absence"
            " WHERE dwelling_id = %s",
            [home.dwelling_id],
        ).fetchall() == [(start, end, "portal", customer.id)]
        await screenshots(page, "portal-away")

    async def test_cancel_an_absence_in_french(self, page: Page, make_user, estate, db):
        customer = make_user("customer", language="fr")
        home = estate.home(customer, reference="C-2")
        start = clock.today_in("Africa/Douala") + timedelta(days=1)
        db.execute(
            "INSERT INTO dwelling_absence (dwelling_id, from_date, to_date, source, declared_by)"
            " VALUES (%s, %s, %s, 'sms', %s)",
            [home.dwelling_id, start, start + timedelta(days=5), customer.id],
        )
        await sign_in(page, customer, expect_path="/portal")
        await page.goto("/portal/profile")
        item = page.locator("#absences li")
        await expect(item).to_contain_text(
            f"C-2 : absent du {_medium(start, 'fr')} au {_medium(start + timedelta(days=5), 'fr')}"
        )
        await item.get_by_role("button", name="Annuler").click()
        await expect(page.locator("#absences")).to_have_text("Aucune absence déclarée.")
        assert db.execute(
            "SELECT cancelled_at IS NOT NULL FROM dwelling_absence WHERE dwelling_id = %s",
            [home.dwelling_id],
        ).fetchone() == (True,)
        await screenshots(page, "portal-away-fr")


class TestInvoices:
    async def test_invoices_payments_and_pdf(
        self, page: Page, make_user, estate, live_server: LiveServer, db
    ):
        customer = make_user("customer")
        home = estate.home(customer)
        estate.invoice(
            home,
            customer,
            number="CM-2026-000101",
            total_minor=12_500,
            issue_date=date(2026, 2, 2),
            due_date=date(2026, 2, 28),
        )
        estate.invoice(
            home,
            customer,
            number="CM-2026-000102",
            total_minor=15_250,
            issue_date=date(2026, 3, 2),
            due_date=date(2026, 3, 30),
        )
        stranger = make_user("customer")
        estate.invoice(
            estate.home(stranger),
            stranger,
            number="CM-2026-000999",
            total_minor=1,
            issue_date=date(2026, 3, 2),
            due_date=date(2026, 3, 30),
        )
        paid = httpx.post(
            f"{live_server.url}/payments",
            json={
                "dwelling_id": home.dwelling_id,
                "method": "cash",
                "amount": "20000",
                "provider_ref": "AGENT-7",
            },
            headers=api_token(live_server, make_user("admin")),
        )
        assert paid.status_code == 201, paid.text
        # A late fee approved on the invoice the payment did not cover is owed with it.
        db.execute(
            "INSERT INTO late_penalty (invoice_id, overdue_minor, amount_minor, currency, status)"
            " SELECT id, 7750, 500, 'XAF', 'approved' FROM invoice WHERE number = %s",
            ["CM-2026-000102"],
        )

        await sign_in(page, customer, expect_path="/portal")
        await page.get_by_role("link", name="Invoices and payments").click()
        rows = page.locator("#invoices tbody tr")
        await expect(rows).to_have_count(2)
        # Newest first, each with its period (the month before the issue) and dwelling.
        await expect(rows.locator("td:first-child")).to_have_text(["February 2026", "January 2026"])
        await expect(rows.locator("td:nth-child(2)")).to_have_text(["A1", "A1"])
        # 27,750 billed and a 500 fee, 20,000 paid: 8,250 left on one invoice, no credit, no
        # estimate (no readings to forecast from).
        await expect(page.locator("#summary li")).to_have_count(1)
        await expect(page.locator("#summary")).to_contain_text("To pay")
        await expect(page.locator("#summary")).to_contain_text("FCFA\u00a08,250")
        await expect(page.locator("#summary")).to_contain_text("Unpaid invoices: 1")
        await expect(page.locator("#estimate-section")).to_be_hidden()
        stored = db.execute(
            "SELECT i.number, i.status::text,"
            " i.total_minor + coalesce(lp.amount_minor, 0) - i.paid_minor FROM invoice i"
            " LEFT JOIN late_penalty lp ON lp.invoice_id = i.id"
            " WHERE i.customer_id = %s ORDER BY i.issue_date DESC",
            [customer.id],
        ).fetchall()
        status_text = {"paid": "Paid", "partially_paid": "Partly paid", "issued": "To pay"}
        for row, (number, status, left) in zip(await rows.all(), stored, strict=True):
            await expect(row).to_contain_text(number)
            await expect(row).to_contain_text(status_text[status])
            if left:
                await expect(row).to_contain_text(f"Left to pay: FCFA\u00a0{left:,}")
        await expect(rows.first).to_contain_text("Late fee: FCFA\u00a0500")
        await expect(page.locator("#invoices")).not_to_contain_text("CM-2026-000999")
        payment = page.locator("#payments tbody tr")
        await expect(payment).to_have_count(1)
        await expect(payment.first).to_contain_text("Cash at an agent")
        await expect(payment.first).to_contain_text("FCFA\u00a020,000")
        await expect(payment.first).to_contain_text("Received")
        await screenshots(page, "portal-invoices")
        async with page.expect_download() as info:
            await page.get_by_role("button", name="Download invoice CM-2026-000102 (PDF)").click()
        download = await info.value
        assert download.suggested_filename == "CM-2026-000102.pdf"
        assert (await download.path()).read_bytes().startswith(b"%PDF")

    async def test_credit_and_the_estimated_next_bill_in_tok_pisin_and_french(
        self, page: Page, make_user, estate, live_server: LiveServer
    ):
        customer = make_user("customer", language="tpi")
        home = estate.home(customer, reference="B-12")
        two_years_of_readings(estate, home.meter_id)
        admin = make_user("admin")
        add_tariff(live_server, admin)
        today = clock.today_in(DOUALA)
        estate.invoice(
            home,
            customer,
            number="CM-2026-000201",
            total_minor=10_000,
            issue_date=date(2026, 11, 2),
            due_date=date(2026, 11, 30),
        )
        # 3,000 more than the invoice: the rest is credit for the next one.
        paid = httpx.post(
            f"{live_server.url}/payments",
            json={"dwelling_id": home.dwelling_id, "method": "cash", "amount": "13000"},
            headers=api_token(live_server, admin),
        )
        assert paid.status_code == 201, paid.text
        forecast = httpx.get(
            f"{live_server.url}/meters/{home.meter_id}/forecast",
            headers=api_token(live_server, customer),
        )
        assert forecast.status_code == 200, forecast.text
        estimate = forecast.json()["invoice"]
        assert estimate["low_total_minor"] <= estimate["total_minor"]
        assert estimate["total_minor"] <= estimate["high_total_minor"]

        await sign_in(page, customer, expect_path="/portal")
        await page.context.add_cookies(
            [{"name": "wb_lang", "value": "tpi", "url": live_server.url}]
        )
        await page.goto("/portal/invoices")
        await expect(page.locator("html")).to_have_attribute("lang", "tpi")
        summary = page.locator("#summary li")
        await expect(summary).to_have_count(2)
        await expect(summary.first).to_have_text(
            "Yu mas pe" + fcfa(0, "tpi") + "Yu pe pinis olgeta bil."
        )
        await expect(summary.nth(1)).to_have_text(
            "Moni i stap yet"
            + fcfa(3_000, "tpi")
            + "Yu pe pastaim: em bai peim nekis bil bilong yu."
        )
        row = page.locator("#invoices tbody tr")
        await expect(row).to_have_count(1)
        await expect(row.locator("td").first).to_have_text("Oktoba 2026")
        await expect(row).to_contain_text("Pe pinis")
        await expect(row).to_contain_text("B-12")
        card = page.locator("#estimate li")
        await expect(card).to_have_count(1)
        month = MONTHS[Language.TPI][today.month - 1]
        await expect(card).to_contain_text(f"Tingting long {month} {today.year} · B-12")
        await expect(card).to_contain_text(f"≈\u00a0{fcfa(estimate['total_minor'], 'tpi')}")
        low, high = (fcfa(estimate[k], "tpi") for k in ("low_total_minor", "high_total_minor"))
        await expect(card).to_contain_text(f"Ating namel long {low} na {high}.")
        await expect(page.locator("#estimate")).to_contain_text("Em i tingting tasol, i no bil")
        await screenshots(page, "portal-invoices-tpi")

        await page.context.add_cookies([{"name": "wb_lang", "value": "fr", "url": live_server.url}])
        await page.reload()
        await expect(page.locator("#invoices tbody td").first).to_have_text("octobre 2026")
        await expect(page.locator("#summary")).to_contain_text("Toutes vos factures sont réglées.")
        await expect(page.locator("#summary")).to_contain_text(f"Avoir{fcfa(3_000, 'fr')}")
        month = MONTHS[Language.FR][today.month - 1]
        await expect(page.locator("#estimate li")).to_contain_text(
            f"Estimation pour {month} {today.year} · B-12"
        )
        await expect(page.locator("#estimate li")).to_contain_text(
            f"Probablement entre {fcfa(estimate['low_total_minor'], 'fr')}"
        )
        await expect(page.locator("#estimate-section h2")).to_have_text("Prochaine facture estimée")
        await screenshots(page, "portal-invoices-fr")
