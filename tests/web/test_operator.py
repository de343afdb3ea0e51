"""The operator dashboard and the meter page in a real browser, checked against the database."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import httpx
import pytest
from playwright.async_api import Page, expect

from tests import clock
from tests.web.conftest import Estate, LiveServer, api_token, screenshots, sign_in

pytestmark = [pytest.mark.services, pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

HOUR = timedelta(hours=1)


def hourly(until: datetime, hours: int, start_index: int = 0) -> list[tuple[datetime, int]]:
    """Hourly readings ending at ``until``; 10 L an hour, 40 L in the evening hours."""
    first = until.replace(minute=0, second=0, microsecond=0) - hours * HOUR
    rows, index = [], start_index
    for i in range(hours + 1):
        time = first + i * HOUR
        rows.append((time, index))
        index += 40 if 17 <= time.hour <= 20 else 10
    return rows


@pytest.fixture
def fleet(estate: Estate, db):
    """Two meters reporting, one silent for three days, one never heard; some quarantine."""
    now = clock.now()
    homes = [estate.home(None, reference=f"R{i}") for i in range(4)]
    estate.readings(homes[0].meter_id, hourly(now, 72))
    estate.readings(homes[1].meter_id, hourly(now, 72, start_index=5000))
    old = now - timedelta(days=3)
    estate.readings(homes[2].meter_id, hourly(old, 24), received_at=old)
    for home in homes[:2]:
        estate.incident(home.meter_id, "leak", started_at=now - timedelta(days=1))
    estate.incident(homes[2].meter_id, "tamper", started_at=old, severity="critical")
    estate.incident(homes[0].meter_id, "burst", started_at=now - 2 * HOUR, status="resolved")
    for reason, status, count in (
        ("malformed_json", "open", 3),
        ("unknown_meter", "open", 1),
        ("unknown_meter", "discarded", 1),
    ):
        for _ in range(count):
            db.execute(
                "INSERT INTO quarantine (topic, payload, reason, status)"
                " VALUES ('meters/x/up', 'x', %s, %s)",
                [reason, status],
            )
    return homes


class TestDashboard:
    async def test_ingest_meters_and_quarantine_match_the_database(
        self, page: Page, make_user, fleet, db
    ):
        await sign_in(page, make_user("admin"), expect_path="/operator")
        await expect(page.locator("#active .figure")).to_have_text("4")
        await expect(page.locator("#reporting .figure")).to_have_text("2")
        await expect(page.locator("#silent-count .figure")).to_have_text("2")
        silent_rows = page.locator("#silent tbody tr")
        await expect(silent_rows).to_have_count(2)
        await expect(silent_rows.nth(0)).to_contain_text(fleet[3].serial)
        await expect(silent_rows.nth(0)).to_contain_text("never")
        await expect(silent_rows.nth(1)).to_contain_text(fleet[2].serial)
        open_counts = dict(
            db.execute(
                "SELECT reason, count(*) FROM quarantine WHERE status = 'open' GROUP BY reason"
            ).fetchall()
        )
        rows = page.locator("#quarantine tbody tr")
        await expect(rows).to_have_count(len(open_counts))
        await expect(rows.nth(0).locator("td")).to_have_text(
            ["Not valid JSON", str(open_counts["malformed_json"])]
        )
        await expect(rows.nth(1).locator("td")).to_have_text(
            ["Unknown meter", str(open_counts["unknown_meter"])]
        )
        await expect(page.locator("svg.chart path.line")).to_have_count(1)
        kinds = page.locator("#anomalies tbody tr")
        await expect(kinds).to_have_count(2)
        await expect(kinds.nth(0).locator("td").nth(0)).to_have_text("Possible leak")
        await expect(kinds.nth(0).locator("td").nth(1)).to_have_text("2")
        await expect(kinds.nth(0).get_by_role("link")).to_have_text("Handle the 2")
        await expect(kinds.nth(0).get_by_role("link")).to_have_attribute(
            "href", "/operator/incidents?kind=leak&status=live"
        )
        await expect(kinds.nth(1).locator("td").nth(0)).to_have_text("Meter tampering")
        await screenshots(page, "operator-dashboard")
        await silent_rows.nth(1).get_by_role("link").click()
        await page.wait_for_url(f"**/operator/meters/{fleet[2].meter_id}")

    async def test_customers_are_kept_out(self, page: Page, make_user):
        await sign_in(page, make_user("customer"), expect_path="/portal")
        await page.goto("/operator")
        await expect(page.get_by_role("status")).to_have_text(
            "Your account may not open this page."
        )


class TestMeterPage:
    async def test_index_and_hourly_consumption_match_the_database(
        self, page: Page, make_user, fleet, db
    ):
        meter = fleet[0]
        await sign_in(page, make_user("admin"), expect_path="/operator")
        await page.goto(f"/operator/meters/{meter.meter_id}")
        await expect(page.get_by_role("heading", level=1)).to_have_text(f"Meter {meter.serial}")
        last_index = db.execute(
            "SELECT index_l FROM reading WHERE meter_id = %s ORDER BY time DESC LIMIT 1",
            [meter.meter_id],
        ).fetchone()[0]
        await expect(page.locator("#meter-facts li").first).to_contain_text(
            f"{last_index / 1000:,.3f}\u00a0m³"
        )
        # The default range: the seven days to the browser's today (UTC here), as the meter's
        # local days, hourly (from 23:00 UTC Douala's next day already has an hour: not shown).
        start = clock.today() - timedelta(days=6)
        hours, total = db.execute(
            "SELECT count(*), sum(volume_l) FROM meter_hourly WHERE meter_id = %s"
            " AND hour_start >= (%s::date)::timestamp AT TIME ZONE 'Africa/Douala'"
            " AND hour_start < (%s::date)::timestamp AT TIME ZONE 'Africa/Douala'",
            [meter.meter_id, start, start + timedelta(days=7)],
        ).fetchone()
        await expect(page.locator("svg.chart rect.bar")).to_have_count(hours)
        await expect(page.locator("#usage-total")).to_have_text(
            f"{total / 1000:,.3f}\u00a0m³ over the range."
        )
        await screenshots(page, "meter-hourly")

    async def test_daily_range_from_the_form(self, page: Page, make_user, fleet, db):
        meter = fleet[1]
        await sign_in(page, make_user("admin"), expect_path="/operator")
        await page.goto(f"/operator/meters/{meter.meter_id}")
        await expect(page.locator("#usage-total")).not_to_be_empty()
        today = clock.today()
        await page.get_by_label("From").fill((today - timedelta(days=2)).isoformat())
        await page.get_by_label("To (included)").fill(today.isoformat())
        await page.get_by_label("Step").select_option("day")
        await page.get_by_role("button", name="Show").click()
        days = db.execute(
            # Local days: from 23:00 UTC Douala's next day has rows too, outside the range asked.
            "SELECT day, volume_l FROM meter_daily WHERE meter_id = %s AND day BETWEEN %s AND %s"
            " ORDER BY day",
            [meter.meter_id, today - timedelta(days=2), today],
        ).fetchall()
        await expect(page.locator("svg.chart rect.bar")).to_have_count(len(days))
        await page.get_by_text("Show the figures").click()
        consumption = page.locator(".chart-data tbody td:first-of-type")
        await expect(consumption.first).to_have_text(f"{days[0][1]:,}")
        texts = await consumption.all_text_contents()
        # Forecast-only days follow the measured ones.
        assert texts[: len(days)] == [f"{volume:,}" for _, volume in days]
        assert not any(texts[len(days) :])
        assert "granularity=day" in page.url
        await screenshots(page, "meter-daily")

    async def test_a_reversed_range_is_refused(self, page: Page, make_user, fleet):
        await sign_in(page, make_user("admin"), expect_path="/operator")
        await page.goto(f"/operator/meters/{fleet[0].meter_id}")
        await expect(page.locator("#usage-total")).not_to_be_empty()
        await page.get_by_label("From").fill("2026-03-10")
        await page.get_by_label("To (included)").fill("2026-03-01")
        await page.get_by_role("button", name="Show").click()
        await expect(page.get_by_role("status")).to_have_text(
            "Choose an end date after the start date."
        )

    async def test_a_reversed_range_in_the_address_is_explained(self, page: Page, make_user, fleet):
        await sign_in(page, make_user("admin"), expect_path="/operator")
        await page.goto(f"/operator/meters/{fleet[0].meter_id}?start=2026-03-10&end=2026-03-01")
        await expect(page.get_by_role("status")).to_have_text(
            "Choose an end date after the start date."
        )


class TestMeterForecastAndAnomalies:
    async def test_band_and_markers_on_the_daily_chart(
        self, page: Page, make_user, estate: Estate, live_server: LiveServer
    ):
        home = estate.home(None, reference="F1")
        now = clock.now()
        estate.readings(home.meter_id, hourly(now, 30 * 24))
        estate.incident(home.meter_id, "leak", started_at=now - timedelta(days=3))
        estate.incident(
            home.meter_id,
            "burst",
            started_at=now - timedelta(days=6),
            status="resolved",
            severity="critical",
        )
        admin = make_user("admin")
        forecast = httpx.get(
            f"{live_server.url}/meters/{home.meter_id}/forecast",
            headers=api_token(live_server, admin),
        ).json()
        await sign_in(page, admin, expect_path="/operator")
        start = clock.today() - timedelta(days=9)
        await page.goto(
            f"/operator/meters/{home.meter_id}?granularity=day&start={start}&end={clock.today()}"
        )
        await expect(page.locator("svg.chart rect.band").first).to_be_visible()
        await expect(page.locator("svg.chart g.marker")).to_have_count(2)
        await expect(page.locator(".legend")).to_contain_text("Forecast (likely range)")
        await page.get_by_text("Show the figures").click()
        first = forecast["days"][0]
        day = date.fromisoformat(first["day"])
        row = page.locator(".chart-data tbody tr").filter(
            has=page.get_by_role("rowheader", name=f"{day.day} {day:%b}", exact=True)
        )
        await expect(row.locator("td").last).to_have_text(
            f"{first['lower_l']:,} – {first['upper_l']:,}"
        )
        table = page.locator("#meter-anomalies tbody tr")
        await expect(table).to_have_count(2)
        await expect(table.nth(0)).to_contain_text("Possible leak")
        await expect(table.nth(1)).to_contain_text("Very high flow")
        await expect(table.nth(1)).to_contain_text("Critical")
        await screenshots(page, "meter-forecast")

    async def test_no_band_without_history(self, page: Page, make_user, fleet):
        await sign_in(page, make_user("admin"), expect_path="/operator")
        await page.goto(f"/operator/meters/{fleet[3].meter_id}?granularity=day")
        await expect(page.locator("#usage-chart")).to_have_text("No data in this range.")
        await expect(page.locator("#forecast-note")).to_have_text("No forecast for this meter yet.")
        await expect(page.locator("svg.chart .band")).to_have_count(0)
