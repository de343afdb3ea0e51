"""The operator reads telemetry history from the database: the chosen window survives a reload."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.async_api import Page, expect

from tests import clock
from tests.web.conftest import Estate, screenshots, sign_in
from tests.web.test_operator import hourly

pytestmark = [pytest.mark.services, pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


@pytest.fixture
def two_zones(estate: Estate):
    """Two meters in two zones, reporting every hour for the last 40 days."""
    now = clock.now()
    homes = [estate.home(None, reference=f"H{i}") for i in range(2)]
    estate.readings(homes[0].meter_id, hourly(now, 40 * 24))
    estate.readings(homes[1].meter_id, hourly(now, 40 * 24, start_index=9000))
    return homes


def zone_days(db, zone_id: int):
    """The zone's last 30 local days (Douala) as the daily rollups hold them."""
    today = clock.today_in("Africa/Douala")
    return db.execute(
        "SELECT d.day, sum(d.volume_l) FROM meter_daily d JOIN meter m ON m.id = d.meter_id"
        " JOIN dwelling w ON w.id = m.dwelling_id JOIN building b ON b.id = w.building_id"
        " WHERE b.zone_id = %s AND d.day BETWEEN %s AND %s GROUP BY d.day ORDER BY d.day",
        [zone_id, today - timedelta(days=29), today],
    ).fetchall()


class TestHistory:
    async def test_a_zones_30_day_chart_survives_a_reload(
        self, page: Page, make_user, two_zones, db
    ):
        zone = two_zones[0]
        await sign_in(page, make_user("admin"), expect_path="/operator")
        history = page.locator("#history")
        # The page sets the form from the address once its script runs: a click before that
        # is undone (seen on a loaded machine).
        await expect(history.locator("input[name=window]:checked")).to_have_count(1)
        await history.get_by_role("radio", name="30 days").check()
        await history.get_by_label("Meters").select_option(f"zone:{zone.zone_id}")
        await history.get_by_role("button", name="Show").click()
        days = zone_days(db, zone.zone_id)
        bars = page.locator("#volume-chart svg.chart rect.bar")
        await expect(bars).to_have_count(len(days))
        assert "window=30d" in page.url

        await page.reload()
        await expect(bars).to_have_count(len(days))
        await expect(history.get_by_role("radio", name="30 days")).to_be_checked()
        await expect(history.get_by_label("Meters")).to_have_value(f"zone:{zone.zone_id}")
        total = sum(volume for _, volume in days)
        await expect(page.locator("#history-total")).to_contain_text(f"{total / 1000:,.3f}\u00a0m³")
        await page.locator("#volume-chart").get_by_text("Show the figures").click()
        cells = page.locator("#volume-chart .chart-data tbody td")
        texts = await cells.all_text_contents()
        assert texts == [f"{volume / 1000:,.3f}" for _, volume in days]
        await expect(page.locator("#rate-chart svg.chart path.line")).to_have_count(1)
        await screenshots(page, "operator-history-30d")

    @pytest.mark.usefixtures("two_zones")
    async def test_the_last_hour_explains_why_it_has_no_volumes(self, page: Page, make_user):
        await sign_in(page, make_user("admin"), expect_path="/operator")
        await page.goto("/operator?window=hour&scope=fleet")
        await expect(page.locator("#volume-chart")).to_have_text(
            "Consumption is counted by the hour: choose the last day or longer to see it."
        )

    async def test_a_meters_history_from_its_page_in_french(self, page: Page, make_user, two_zones):
        meter = two_zones[1]
        await sign_in(page, make_user("admin", language="fr"), expect_path="/operator")
        await page.goto(f"/operator/meters/{meter.meter_id}")
        await page.get_by_role("link", name="Historique du compteur").click()
        await page.wait_for_url("**/operator?window=30d*")
        await expect(page.locator("#h-scope")).to_have_value(f"meter:{meter.meter_id}")
        await expect(page.locator("#volume-chart svg.chart rect.bar").first).to_be_visible()
        await expect(page.locator("#history")).to_contain_text("30 jours")
        await screenshots(page, "operator-history-fr")
