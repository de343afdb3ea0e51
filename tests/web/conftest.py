"""Browser tests: the app served by uvicorn on a free port, Debian's chromium through Playwright.

One browser per test session (starting chromium is the slow part); each test gets its own
database, server and browser context. Screenshots go to test-output/screenshots (git-ignored).

Playwright's async API on the session's event loop: a browser test module sets
``pytestmark = [..., pytest.mark.asyncio(loop_scope="session")]`` and its tests are ``async``.
(The sync API would leave its loop marked running in the main thread for the whole session and
break every async test that runs after it.)
"""

from __future__ import annotations

import os
import re
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import pytest_asyncio
import uvicorn
from fastapi import FastAPI
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, async_playwright

from accounts.passwords import hash_password
from core.config import Settings
from core.config_auth import AuthSettings
from core.sms import ConsoleSmsProvider

CHROMIUM = Path("/usr/bin/chromium")


def _browser_env() -> dict[str, str | float | bool] | None:
    """Under ``scripts/test-clock`` chromium needs its monotonic clock moved too.

    With the wall clock moved and the monotonic one left alone (what Python needs), chromium
    never finishes loading a page (seen: every ``goto`` timed out); with both moved it works.
    """
    if "FAKETIME" not in os.environ:
        return None
    return {**os.environ, "FAKETIME_DONT_FAKE_MONOTONIC": "0"}


SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
PASSWORD = "correct horse battery"
_HASH = hash_password(PASSWORD)
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
_phones = iter(range(10_000_000))


def next_phone() -> str:
    """A fresh valid Cameroonian mobile number."""
    return f"+23767{next(_phones) % 10_000_000:07d}"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Cameroon, raised auth limits (many sign-ins from one address), no SMS cool-down."""
    limits = {
        f"throttle_{name}": 10_000 for name in ("login", "register", "activate", "resend", "other")
    }
    return settings.model_copy(
        update={
            "default_country": "CM",
            "auth": AuthSettings.model_validate({**limits, "code_cooldown_s": 0}),
        }
    )


@dataclass
class LiveServer:
    url: str
    app: FastAPI

    @property
    def outbox(self) -> ConsoleSmsProvider:
        provider = self.app.state.sms
        assert isinstance(provider, ConsoleSmsProvider)
        return provider

    def last_code(self, phone: str) -> str:
        texts = [sms.text for sms in self.outbox.outbox if sms.to == phone]
        assert texts, f"no SMS sent to {phone}"
        found = re.search(r"\b(\d{6})\b", texts[-1])
        assert found, texts[-1]
        return found.group(1)


@pytest.fixture
def live_server(settings: Settings) -> Iterator[LiveServer]:
    """The app under uvicorn in a thread, on a free loopback port."""
    from api.app import create_app

    app = create_app(settings)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        threading.Event().wait(0.02)
    yield LiveServer(url=f"http://127.0.0.1:{port}", app=app)
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            env=_browser_env(),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield launched
        await launched.close()


@pytest_asyncio.fixture(loop_scope="session")
async def context(browser: Browser, live_server: LiveServer) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(
        base_url=live_server.url, viewport=PHONE, locale="en-GB", timezone_id="Africa/Douala"
    )
    # Generous: a page loads in well under a second, but a loaded machine (two suites, a
    # worker starting) has taken over 10 s to answer the first navigation.
    ctx.set_default_timeout(30_000)
    yield ctx
    await ctx.close()


@pytest_asyncio.fixture(loop_scope="session")
async def page(context: BrowserContext) -> AsyncIterator[Page]:
    """A page that fails the test on any script error or anything the CSP refuses."""
    errors: list[str] = []
    tab = await context.new_page()
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on(
        "console",
        lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    yield tab
    assert errors == [], f"script errors on the page: {errors}"


async def screenshots(page: Page, name: str) -> None:
    """Save the page at phone and desktop sizes, then go back to the phone size."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        await page.set_viewport_size(size)
        await page.wait_for_timeout(300)  # charts redraw at the new width 200 ms after a resize
        await page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)


@dataclass
class Person:
    id: int
    phone: str
    role: str
    first_name: str
    last_name: str


@pytest.fixture
def make_user(db: psycopg.Connection):
    """An active user of ``role`` with ``PASSWORD``."""

    def make(role: str = "customer", *, first_name: str = "Test", language: str = "en") -> Person:
        phone = next_phone()
        last_name = role.title()
        row = db.execute(
            "INSERT INTO app_user (phone, first_name, last_name, language, role, is_active,"
            " password_hash) VALUES (%s, %s, %s, %s, %s, true, %s) RETURNING id",
            [phone, first_name, last_name, language, role, _HASH],
        ).fetchone()
        assert row is not None
        return Person(row[0], phone, role, first_name, last_name)

    return make


async def sign_in(page: Page, person: Person, *, expect_path: str) -> None:
    await page.goto("/signin")
    await page.get_by_label("Mobile phone number").fill(person.phone)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"**{expect_path}")


@dataclass
class Home:
    zone_id: int
    building_id: int
    dwelling_id: int
    meter_id: int
    serial: str


class Estate:
    """Zones, dwellings, meters and readings written with plain SQL, as the ingest would."""

    def __init__(self, db: psycopg.Connection) -> None:
        self.db = db
        self._n = 0
        self._tariffs: dict[str, int] = {}

    def home(
        self,
        occupant: Person | None,
        *,
        reference: str = "A1",
        country: str = "CM",
        timezone: str = "Africa/Douala",
    ) -> Home:
        self._n += 1
        row = self.db.execute(
            "WITH z AS (INSERT INTO zone (country_code, code, name, timezone)"
            "  VALUES (%s, %s, 'Zone', %s) RETURNING id),"
            " b AS (INSERT INTO building (zone_id, name, address) SELECT id, %s, 'Rue 1' FROM z"
            "  RETURNING id, zone_id),"
            " d AS (INSERT INTO dwelling (building_id, reference, dwelling_type)"
            "  SELECT id, %s, 'apartment' FROM b RETURNING id, building_id)"
            " SELECT b.zone_id, b.id, d.id FROM b, d",
            [country, f"Z{self._n}-{id(self)}", timezone, f"Building {self._n}", reference],
        ).fetchone()
        assert row is not None
        zone, building, dwelling = row
        serial = f"WB-{self._n:04d}-{dwelling}"
        inserted = self.db.execute(
            "INSERT INTO meter (serial, kind, dwelling_id, installed_at, reporting_interval_s)"
            " VALUES (%s, 'iot', %s, '2020-01-01Z', 3600) RETURNING id",
            [serial, dwelling],
        ).fetchone()
        assert inserted is not None
        meter = inserted[0]
        if occupant is not None:
            self.db.execute(
                "INSERT INTO dwelling_occupant (user_id, dwelling_id, relation, start_date)"
                " VALUES (%s, %s, 'tenant', '2020-01-01')",
                [occupant.id, dwelling],
            )
        return Home(zone, building, dwelling, meter, serial)

    def readings(
        self,
        meter_id: int,
        rows: list[tuple[datetime, int]],
        *,
        received_at: datetime | None = None,
    ) -> None:
        """Store (time, index in litres) readings, keep the meter's state, refresh its rollups."""
        from analytics.rollups.service import refresh_pending

        with self.db.transaction(), self.db.cursor() as cur:
            with cur.copy("COPY reading (meter_id, time, index_l, source) FROM STDIN") as copy:
                for time, index_l in rows:
                    copy.write_row((meter_id, time, index_l, "iot"))
            cur.execute(
                "INSERT INTO rollup_pending (meter_id, since) VALUES (%s, %s)"
                " ON CONFLICT (meter_id) DO UPDATE"
                " SET since = least(rollup_pending.since, EXCLUDED.since)",
                [meter_id, min(t for t, _ in rows)],
            )
            last_time, last_index = max(rows)
            cur.execute(
                "INSERT INTO meter_state (meter_id, last_time, last_index_l, last_received_at,"
                " readings_total) VALUES (%s, %s, %s, coalesce(%s, now()), %s)"
                " ON CONFLICT (meter_id) DO UPDATE SET last_time = EXCLUDED.last_time,"
                " last_index_l = EXCLUDED.last_index_l,"
                " last_received_at = EXCLUDED.last_received_at,"
                " readings_total = meter_state.readings_total + EXCLUDED.readings_total",
                [meter_id, last_time, last_index, received_at, len(rows)],
            )
        with self.db.transaction():
            refresh_pending(self.db, limit=1000, default_country="CM")

    def invoice(
        self,
        home: Home,
        customer: Person,
        *,
        number: str,
        total_minor: int,
        issue_date: date,
        due_date: date,
        status: str = "issued",
        volume_l: int = 9_000,
        country: str = "CM",
        currency: str = "XAF",
    ) -> int:
        """An issued invoice (XAF in Cameroon unless told), as the period close leaves it (the
        country's tariff made on first use)."""
        if country not in self._tariffs:
            self._tariffs[country] = self._one(
                "INSERT INTO tariff (country_code, currency, effective_from, vat_pct,"
                " service_fee_minor, penalty_pct, penalty_fixed_minor)"
                " VALUES (%s, %s, '2020-01-01', 19.25, 500, 5, 0) RETURNING id",
                [country, currency],
            )
        start = issue_date.replace(day=1) - timedelta(days=1)
        period = self._one(
            "INSERT INTO billing_period (label, start_date, end_date) VALUES (%s, %s, %s)"
            " ON CONFLICT (start_date, end_date) DO UPDATE SET label = EXCLUDED.label"
            " RETURNING id",
            [f"{start:%Y-%m}", start.replace(day=1), start],
        )
        return self._one(
            "INSERT INTO invoice (number, kind, status, period_id, dwelling_id, customer_id,"
            " country_code, currency, tariff_id, dwelling_type, period_days, volume_l,"
            " net_minor, vat_minor, total_minor, issue_date, due_date, issued_at)"
            " VALUES (%s, 'periodic', %s, %s, %s, %s, %s, %s, %s, 'apartment', 30, %s,"
            " %s, 0, %s, %s, %s, %s) RETURNING id",
            [
                number,
                status,
                period,
                home.dwelling_id,
                customer.id,
                country,
                currency,
                self._tariffs[country],
                volume_l,
                total_minor,
                total_minor,
                issue_date,
                due_date,
                datetime.combine(issue_date, datetime.min.time(), UTC),
            ],
        )

    def incident(
        self,
        meter_id: int,
        kind: str,
        *,
        started_at: datetime,
        status: str = "open",
        severity: str = "warning",
    ) -> int:
        """An incident as the analytics scan records it."""
        ended = None if status in ("open", "acknowledged") else started_at + timedelta(hours=2)
        return self._one(
            "INSERT INTO incident (meter_id, kind, severity, status, started_at, last_seen_at,"
            " ended_at) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
            [meter_id, kind, severity, status, started_at, ended or started_at, ended],
        )

    def _one(self, query: str, params: list[object]) -> int:
        row = self.db.execute(query, params).fetchone()
        assert row is not None
        return int(row[0])


@pytest.fixture
def estate(db: psycopg.Connection) -> Estate:
    return Estate(db)


def refresh_cookie(live_server: LiveServer, token: str) -> Any:
    """The web app's refresh cookie holding ``token``, as sign-in sets it (api/auth/cookie.py)."""
    settings = live_server.app.state.settings
    return {
        "name": "wb_refresh",
        "value": token,
        "domain": "127.0.0.1",
        "path": "/auth",
        "httpOnly": True,
        "secure": settings.auth.cookie_secure,
        "sameSite": "Strict",
    }


def api_token(live_server: LiveServer, person: Person) -> dict[str, str]:
    """Authorization header of ``person``, signed in through the API, to arrange through it."""
    answer = httpx.post(
        f"{live_server.url}/auth/login", json={"phone": person.phone, "password": PASSWORD}
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}
