"""Browser tests: the app served by uvicorn on a free port, Debian's chromium through Playwright.

One browser per test session (starting chromium is the slow part); each test gets its own
database, server and browser context. Screenshots go to test-output/screenshots (git-ignored).
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, sync_playwright

from api.auth.passwords import hash_password
from core.config import AuthSettings, Settings
from core.sms import ConsoleSmsProvider

pytestmark = [pytest.mark.services, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
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


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
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
        launched.close()


@pytest.fixture
def context(browser: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    ctx = browser.new_context(
        base_url=live_server.url, viewport=PHONE, locale="en-GB", timezone_id="Africa/Douala"
    )
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A page that fails the test on any script error."""
    errors: list[str] = []
    tab = context.new_page()
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    assert errors == [], f"script errors on the page: {errors}"


def screenshots(page: Page, name: str) -> None:
    """Save the page at phone and desktop sizes, then go back to the phone size."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)


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


def sign_in(page: Page, person: Person, *, expect_path: str) -> None:
    page.goto("/signin")
    page.get_by_label("Mobile phone number").fill(person.phone)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**{expect_path}")
