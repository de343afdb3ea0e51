"""The manager's and the administrator's views in a real browser, checked against the database.

The reports, anomalies and billing APIs come from other branches: where the server has them the
sections must show their data, where it does not they must say "not available yet", never fail.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.routing import iter_route_contexts
from playwright.async_api import Page, expect

from tests import clock
from tests.web.conftest import Estate, LiveServer, screenshots, sign_in

pytestmark = [pytest.mark.services, pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

UNAVAILABLE = "Not available yet on this server."


def has_route(server: LiveServer, path: str) -> bool:
    return any(context.path == path for context in iter_route_contexts(server.app.routes))


class TestManagerView:
    async def test_buildings_dwellings_tenants_and_missing_reports(
        self, page: Page, db, make_user, estate: Estate, live_server: LiveServer
    ):
        manager = make_user("manager", first_name="Maya")
        tenant = make_user("customer", first_name="Ama")
        mine = estate.home(tenant, reference="B-12")
        estate.home(None, reference="B-14")  # another building, not hers
        db.execute(
            "INSERT INTO building_manager (user_id, building_id) VALUES (%s, %s)",
            [manager.id, mine.building_id],
        )
        db.execute(
            "INSERT INTO dwelling (building_id, reference, dwelling_type, occupancy)"
            " VALUES (%s, 'B-13', 'house', 'vacant')",
            [mine.building_id],
        )

        db.execute(
            "INSERT INTO incident (meter_id, kind, severity, started_at, last_seen_at)"
            " VALUES (%s, 'leak', 'warning', now() - interval '2 days', now())",
            [mine.meter_id],
        )

        await sign_in(page, manager, expect_path="/manager")

        managed = db.execute(
            "SELECT b.name FROM building b JOIN building_manager m ON m.building_id = b.id"
            " WHERE m.user_id = %s",
            [manager.id],
        ).fetchall()
        options = page.locator("#building option")
        await expect(options).to_have_text([name for (name,) in managed])
        references = db.execute(
            "SELECT reference FROM dwelling WHERE building_id = %s ORDER BY id",
            [mine.building_id],
        ).fetchall()
        rows = page.locator("#dwellings tbody tr")
        await expect(rows).to_have_count(len(references))
        await expect(rows.first).to_contain_text("B-12")
        await expect(rows.first).to_contain_text("Ama Customer")
        await expect(rows.nth(1)).to_contain_text("vacant")
        if has_route(live_server, "/reports/buildings/{building_id}/monthly"):
            report = page.locator("#report tbody tr")
            await expect(report).to_have_count(len(references) + 1)  # and the total
            await expect(page.locator("#followup")).to_contain_text("Nothing unpaid this month.")
        else:
            for section in ("#report", "#followup", "#collection"):
                await expect(page.locator(section)).to_contain_text(UNAVAILABLE)
        if has_route(live_server, "/anomalies"):
            await expect(page.locator("#anomalies tbody tr")).to_have_count(1)
            await expect(page.locator("#anomalies")).to_contain_text(mine.serial)
        else:
            await expect(page.locator("#anomalies")).to_contain_text(UNAVAILABLE)
        await screenshots(page, "manager-buildings")


class TestAdminView:
    async def test_tariff_version_users_and_roles_and_missing_billing(
        self, page: Page, db, make_user, live_server: LiveServer
    ):
        admin = make_user("admin", first_name="Ada")
        customer = make_user("customer", first_name="Cyril")
        await sign_in(page, admin, expect_path="/operator")
        await page.goto("/admin")
        await expect(page.locator("#tariffs")).to_contain_text("Nothing to show.")

        form = page.locator("#tariff-form")
        starts = clock.today() + timedelta(days=1)
        await form.get_by_label("In force from").fill(starts.isoformat())
        for n, (upper, price) in enumerate((("10", "365"), ("30", "450"), ("", "550")), 1):
            if upper:
                await form.get_by_label(f"Block {n} up to (m³)").fill(upper)
            await form.get_by_label(f"Block {n} price per m³").fill(price)
        for kind in ("apartment", "house", "commercial", "communal"):
            await form.get_by_label(f"Monthly subscription: {kind}").fill("1000")
        await form.get_by_label("Service fee").fill("500")
        await form.get_by_label("VAT %").fill("19.25")
        await form.get_by_label("Why (decision, reference)").fill("Board decision 42")
        await form.get_by_role("button", name="Create the version").click()
        await expect(page.locator("#status")).to_have_text("Tariff version created.")
        await expect(page.locator("#tariffs tbody tr")).to_have_count(1)

        stored = db.execute(
            "SELECT t.effective_from, t.vat_pct, t.service_fee_minor, t.note,"
            " array_agg(b.price_per_m3 ORDER BY b.position)"
            " FROM tariff t JOIN tariff_block b ON b.tariff_id = t.id"
            " WHERE t.country_code = 'CM' GROUP BY t.id"
        ).fetchall()
        assert len(stored) == 1
        effective, vat, fee, note, prices = stored[0]
        assert (effective, float(vat), fee, note) == (starts, 19.25, 500, "Board decision 42")
        assert [float(p) for p in prices] == [365, 450, 550]

        await page.get_by_role("button", name="Close the period").click()
        if has_route(live_server, "/billing/close"):
            # The server answered: a summary of the run, or the rule it broke, in words.
            answered = page.locator("#close-result:not(:empty), #status[data-kind='error']")
            await expect(answered.first).to_be_visible()
            await expect(page.locator("#regularisations")).to_contain_text(
                "None awaiting approval."
            )
        else:
            await expect(page.locator("#close-result")).to_contain_text(UNAVAILABLE)
            await expect(page.locator("#regularisations")).to_contain_text(UNAVAILABLE)

        role = page.get_by_label("Role: Cyril Customer")
        await role.select_option("technician")
        await expect(page.locator("#status")).to_contain_text("is now Technician")
        saved = db.execute("SELECT role::text FROM app_user WHERE id = %s", [customer.id])
        assert saved.fetchone() == ("technician",)
        await screenshots(page, "admin")
