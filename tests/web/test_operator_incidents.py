"""The incidents workspace in a real browser: one incident acknowledged then resolved with a note,
and a page of incidents acknowledged at once, checked against the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.async_api import Page, expect

from tests import clock
from tests.web.conftest import Estate, screenshots, sign_in
from tests.web.test_operator import hourly

pytestmark = [pytest.mark.services, pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

LEAKS = 60


@pytest.fixture
def leaks(estate: Estate, db):
    """A meter with a week of readings and a leak for two days; 59 more meters with a leak."""
    now = clock.now()
    home = estate.home(None, reference="L0")
    estate.readings(home.meter_id, hourly(now, 7 * 24))
    first = estate.incident(home.meter_id, "leak", started_at=now - timedelta(days=2))
    meters = [
        row[0]
        for row in db.execute(
            "INSERT INTO meter (serial, kind, dwelling_id, installed_at)"
            " SELECT 'LK-' || n, 'iot', %s, '2020-01-01Z' FROM generate_series(1, %s) n"
            " RETURNING id",
            [home.dwelling_id, LEAKS - 1],
        ).fetchall()
    ]
    for i, meter in enumerate(meters):
        estate.incident(meter, "leak", started_at=now - timedelta(days=3, minutes=i))
    estate.incident(
        home.meter_id, "tamper", started_at=now - timedelta(days=1), severity="critical"
    )
    return home, first


def status_of(db, incident_id: int):
    return db.execute(
        "SELECT status::text, note FROM incident WHERE id = %s", [incident_id]
    ).fetchone()


class TestOneIncident:
    async def test_operator_acknowledges_then_resolves_with_a_note(
        self, page: Page, make_user, leaks, db
    ):
        home, leak = leaks
        await sign_in(page, make_user("admin"), expect_path="/operator")
        await page.goto("/operator/incidents?kind=leak&status=live")
        await expect(page.locator("#count")).to_have_text(f"{LEAKS} incidents; 1–50 shown.")
        await page.get_by_role("button", name=f"Details · {home.serial}").click()
        detail = page.locator("#detail")
        await expect(detail.get_by_role("heading")).to_contain_text(f"Incident {leak}")
        await expect(detail.locator("svg.chart rect.bar").first).to_be_visible()
        await expect(detail.locator("svg.chart g.marker")).to_have_count(1)
        await screenshots(page, "operator-incident")

        await detail.get_by_role("button", name="Acknowledge").click()
        await expect(page.get_by_role("status")).to_have_text("Saved.")
        assert status_of(db, leak) == ("acknowledged", "")
        await expect(detail.locator("#detail-facts")).to_contain_text("Acknowledged")

        await detail.get_by_role("button", name="Resolve").click()
        await expect(page.get_by_role("status")).to_contain_text("a note must say why")
        assert status_of(db, leak)[0] == "acknowledged"
        await detail.get_by_label("Note (why it is resolved)").fill("Valve replaced")
        await detail.get_by_role("button", name="Resolve").click()
        await expect(page.get_by_role("status")).to_have_text("Saved.")
        assert status_of(db, leak) == ("closed", "Valve replaced")
        await expect(page.locator("#count")).to_have_text(f"{LEAKS - 1} incidents; 1–50 shown.")


class TestBulk:
    @pytest.mark.usefixtures("leaks")
    async def test_a_page_of_incidents_acknowledged_at_once(self, page: Page, make_user, db):
        await sign_in(page, make_user("admin"), expect_path="/operator")
        await page.goto("/operator")
        await page.locator("#anomalies").get_by_role("link", name=f"Handle the {LEAKS}").click()
        await page.wait_for_url("**/operator/incidents?kind=leak&status=live")
        await expect(page.locator("#list tbody tr")).to_have_count(50)
        await page.get_by_label("Select every incident on this page").first.check()
        await expect(page.locator("#selected")).to_have_text("50 selected")
        await page.locator("#bulk").get_by_role("button", name="Acknowledge").click()
        await expect(page.get_by_role("status")).to_have_text("50 done, 0 refused.")
        counts = dict(
            db.execute(
                "SELECT status::text, count(*) FROM incident WHERE kind = 'leak' GROUP BY 1"
            ).fetchall()
        )
        assert counts == {"acknowledged": 50, "open": LEAKS - 50}
        await page.get_by_role("button", name="Next page").click()
        await expect(page.locator("#list tbody tr")).to_have_count(LEAKS - 50)
        await expect(page.locator("#count")).to_have_text(f"{LEAKS} incidents; 51–{LEAKS} shown.")
        await screenshots(page, "operator-incidents")

    @pytest.mark.usefixtures("leaks")
    async def test_filters_by_severity_in_tok_pisin(self, page: Page, make_user):
        await sign_in(page, make_user("admin", language="tpi"), expect_path="/operator")
        await page.goto("/operator/incidents?severity=critical&status=live")
        rows = page.locator("#list tbody tr")
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text("Man i bagarapim mita")
        await expect(rows.first).to_contain_text("Bikpela hevi")
        await screenshots(page, "operator-incidents-tpi")
