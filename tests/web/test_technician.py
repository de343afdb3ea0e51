"""The technician's view in a real browser: the round, a reading with a photo, a fault, and the
offline path (readings queued while offline, sent once when the network returns)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from playwright.async_api import BrowserContext, Locator, Page, Route, expect

from tests import clock
from tests.web.conftest import Person, screenshots, sign_in

# Playwright's offline switch does not reach a service worker's own fetches; with these events on,
# the test can cut them too (microsoft/playwright#2311), so the offline page truly comes from the
# worker's cache. Read when the driver starts, which is after collection.
os.environ.setdefault("PW_EXPERIMENTAL_SERVICE_WORKER_NETWORK_EVENTS", "1")

pytestmark = [pytest.mark.services, pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) + b"\xff\xd9"


def arrange_round(db: psycopg.Connection, technician: Person) -> dict[str, int]:
    """Two hand-read meters due in the technician's building, one with a reading on record."""
    zone = db.execute(
        "INSERT INTO zone (country_code, code, name) VALUES ('CM', 'DLA', 'Douala') RETURNING id"
    ).fetchone()
    assert zone is not None
    building = db.execute(
        "INSERT INTO building (zone_id, name, address) VALUES (%s, 'Residence Akwa',"
        " '12 rue Joss') RETURNING id",
        [zone[0]],
    ).fetchone()
    assert building is not None
    db.execute(
        "INSERT INTO technician_assignment (technician_id, building_id) VALUES (%s, %s)",
        [technician.id, building[0]],
    )
    meters = {}
    for reference in ("A1", "A2", "B1"):
        row = db.execute(
            "WITH d AS (INSERT INTO dwelling (building_id, reference, dwelling_type)"
            " VALUES (%s, %s, 'apartment') RETURNING id)"
            " INSERT INTO meter (serial, kind, dwelling_id, installed_at)"
            " SELECT %s, 'mechanical', id, '2026-01-01Z' FROM d RETURNING id",
            [building[0], reference, f"MEC-{reference}"],
        ).fetchone()
        assert row is not None
        meters[reference] = row[0]
    db.execute(
        "INSERT INTO reading (meter_id, time, source, index_l) VALUES (%s, %s, 'manual', 5000)",
        [meters["B1"], clock.now() - timedelta(days=60)],
    )
    return meters


def manual_readings(db: psycopg.Connection) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT m.serial, r.index_l FROM reading r JOIN meter m ON m.id = r.meter_id"
        " WHERE r.source = 'manual' AND r.time > now() - interval '1 day' ORDER BY m.serial"
    ).fetchall()


def card(page: Page, serial: str) -> Locator:
    return page.locator("#round > li", has_text=serial)


async def enter_reading(
    page: Page, serial: str, index_m3: str, *, photo: Path | None = None
) -> None:
    await card(page, serial).get_by_role("button", name="Enter reading").click()
    form = page.locator("#reading-form")
    await form.get_by_label("Index shown on the register (m³)").fill(index_m3)
    if photo is not None:
        await form.get_by_label("Photo of the register").set_input_files(str(photo))
    await form.get_by_role("button", name="Save").click()
    await expect(form).to_be_hidden()


async def wait_for_worker(page: Page) -> None:
    await page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    await page.wait_for_function("navigator.serviceWorker.controller !== null")
    await page.wait_for_function("caches.match('/rounds/today').then((r) => r !== undefined)")


async def _cut_worker(route: Route) -> None:
    if route.request.service_worker is not None:
        await route.abort("internetdisconnected")
    else:
        await route.continue_()


async def go_offline(context: BrowserContext) -> None:
    await context.set_offline(True)
    await context.route("**/*", _cut_worker)


async def go_online(context: BrowserContext) -> None:
    await context.unroute("**/*", _cut_worker)
    await context.set_offline(False)


REPLAY_OUTBOX = """async () => {
  const db = await new Promise((ok, ko) => {
    const r = indexedDB.open("wb-field", 1); r.onsuccess = () => ok(r.result); r.onerror = ko;
  });
  const items = await new Promise((ok) => {
    const r = db.transaction("outbox").objectStore("outbox").getAll();
    r.onsuccess = () => ok(r.result);
  });
  // A token of the page's own session, from its refresh cookie as the page gets one.
  const refreshed = await fetch("/auth/refresh", {
    method: "POST", headers: { "X-WaterBill-Session": "cookie" },
  });
  const token = (await refreshed.json()).access_token;
  const answers = [];
  for (const item of items.filter((i) => i.kind === "reading")) {
    const form = new FormData();
    for (const [k, v] of Object.entries(item.fields)) form.append(k, v);
    if (item.photo) form.append("photo", item.photo, "photo.jpg");
    const response = await fetch(item.url, {
      method: "POST", body: form,
      headers: {
        "Idempotency-Key": item.key,
        Authorization: `Bearer ${token}`,
      },
    });
    answers.push([response.status, response.headers.get("Idempotent-Replayed")]);
  }
  return answers;
}"""


class TestTechnicianView:
    async def test_round_reading_with_photo_fault_and_conflict(
        self, page: Page, db, make_user, tmp_path: Path
    ):
        technician = make_user("technician", first_name="Tom")
        meters = arrange_round(db, technician)
        photo = tmp_path / "register.jpg"
        photo.write_bytes(JPEG)

        await sign_in(page, technician, expect_path="/technician")
        await expect(page.locator("#round > li")).to_have_count(3)
        await expect(card(page, "MEC-B1")).to_contain_text("Reading due")
        await expect(card(page, "MEC-A1")).to_contain_text("Never read")
        await screenshots(page, "technician-round")

        await enter_reading(page, "MEC-A1", "12.345", photo=photo)
        queue = page.locator("#queue > li")
        await expect(queue.first).to_contain_text("Saved on the server")
        await enter_reading(page, "MEC-B1", "1.000")
        refused = page.locator('#queue > li[data-state="conflict"]')
        await expect(refused).to_contain_text("Refused by the server")
        await expect(refused).to_contain_text("lower than")
        await card(page, "MEC-A2").get_by_role("button", name="Report a fault").click()
        await page.locator("#fault-form").get_by_label("What is wrong").select_option("illegible")
        await page.locator("#fault-form").get_by_role("button", name="Save").click()
        await expect(page.locator('#queue > li[data-state="synced"]')).to_have_count(2)
        await expect(card(page, "MEC-A1")).to_contain_text("Read today")
        await screenshots(page, "technician-synced-and-refused")

        assert manual_readings(db) == [("MEC-A1", 12_345)]
        photo_id = db.execute(
            "SELECT photo_id FROM manual_reading WHERE meter_id = %s", [meters["A1"]]
        ).fetchone()
        assert photo_id is not None
        assert photo_id[0] is not None
        faults = db.execute("SELECT meter_id, kind::text FROM meter_fault").fetchall()
        assert faults == [(meters["A2"], "illegible")]

    async def test_offline_readings_are_stored_once_when_the_network_returns(
        self, page: Page, context: BrowserContext, db, make_user
    ):
        technician = make_user("technician")
        arrange_round(db, technician)
        await sign_in(page, technician, expect_path="/technician")
        await expect(page.locator("#round > li")).to_have_count(3)
        await wait_for_worker(page)

        await go_offline(context)
        await page.reload()
        await expect(page.locator("#net")).to_be_visible()
        await expect(page.locator("#round-note")).to_contain_text("offline copy")
        await expect(page.locator("#round > li")).to_have_count(3)
        await enter_reading(page, "MEC-A1", "3.210")
        await enter_reading(page, "MEC-A2", "0.456")
        queued = page.locator('#queue > li[data-state="queued"]')
        await expect(queued).to_have_count(2)
        await expect(queued.first).to_contain_text("Waiting for the network")
        await screenshots(page, "technician-offline-queue")
        assert manual_readings(db) == []

        await go_online(context)
        await expect(page.locator('#queue > li[data-state="synced"]')).to_have_count(2)
        await expect(page.locator("#net")).to_be_hidden()
        assert manual_readings(db) == [("MEC-A1", 3_210), ("MEC-A2", 456)]
        keys = db.execute("SELECT count(*) FROM idempotency_key").fetchone()
        assert keys == (2,)

        # The sync again, as a flaky network would cause: the server answers from the keys.
        replays = await page.evaluate(REPLAY_OUTBOX)
        assert replays == [[201, "true"], [201, "true"]]
        assert manual_readings(db) == [("MEC-A1", 3_210), ("MEC-A2", 456)]
        await screenshots(page, "technician-back-online")
