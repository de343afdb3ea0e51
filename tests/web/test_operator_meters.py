"""Hand-read meters are not "never heard"; the meter page keeps the index's unit on the card and
shows the forecast band at every step."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.async_api import Page, expect

from tests import clock
from tests.web.conftest import Estate, screenshots, sign_in
from tests.web.test_operator import hourly

pytestmark = [pytest.mark.services, pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


class TestHandReadMeters:
    async def test_a_meter_read_by_hand_is_not_listed_silent(
        self, page: Page, make_user, estate: Estate, db
    ):
        hand = estate.home(None, reference="M1")
        silent = estate.home(None, reference="M2")
        old = estate.home(None, reference="M3")
        db.execute(
            "INSERT INTO reading (meter_id, time, index_l, source) VALUES"
            " (%s, %s, 1234567, 'manual'), (%s, %s, 5000, 'manual')",
            [
                hand.meter_id,
                clock.now() - timedelta(days=3),
                old.meter_id,
                clock.now() - timedelta(days=90),
            ],
        )
        await sign_in(page, make_user("admin"), expect_path="/operator")
        await expect(page.locator("#hand-read .figure")).to_have_text("1")
        await expect(page.locator("#silent-count .figure")).to_have_text("2")
        rows = page.locator("#silent tbody tr")
        await expect(rows).to_have_count(2)
        await expect(page.locator("#silent")).not_to_contain_text(hand.serial)
        await expect(rows.filter(has_text=silent.serial)).to_contain_text("never")
        await expect(rows.filter(has_text=old.serial).locator("td").nth(2)).not_to_have_text(
            "never"
        )


class TestMeterPage:
    async def test_the_index_unit_fits_its_card_on_a_phone(
        self, page: Page, make_user, estate: Estate
    ):
        home = estate.home(None, reference="U1")
        estate.readings(home.meter_id, hourly(clock.now(), 48, start_index=987_654_321))
        await sign_in(page, make_user("admin"), expect_path="/operator")
        await page.goto(f"/operator/meters/{home.meter_id}")
        card = page.locator("#meter-facts li").first
        unit = card.locator(".unit")
        await expect(unit).to_have_text("\u00a0m³")
        box, unit_box = await card.bounding_box(), await unit.bounding_box()
        assert box is not None
        assert unit_box is not None
        assert unit_box["x"] + unit_box["width"] <= box["x"] + box["width"]
        await screenshots(page, "meter-index-card")

    async def test_the_forecast_band_shows_at_the_hourly_step(
        self, page: Page, make_user, estate: Estate
    ):
        home = estate.home(None, reference="F2")
        estate.readings(home.meter_id, hourly(clock.now(), 30 * 24))
        await sign_in(page, make_user("admin"), expect_path="/operator")
        start = clock.today() - timedelta(days=2)
        await page.goto(
            f"/operator/meters/{home.meter_id}?granularity=hour&start={start}&end={clock.today()}"
        )
        await expect(page.locator("svg.chart rect.band").first).to_be_visible()
        await expect(page.locator(".legend")).to_contain_text("Forecast (likely range)")
        band = await page.locator("svg.chart rect.band").first.bounding_box()
        assert band is not None
        assert band["width"] > 10
        assert band["height"] >= 2
        await screenshots(page, "meter-hourly-forecast")
