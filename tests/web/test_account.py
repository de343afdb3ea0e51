"""Sign-in, sign-up with the SMS code, language switching, in a real browser."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.web.conftest import PASSWORD, LiveServer, next_phone, screenshots, sign_in

JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+")

pytestmark = [pytest.mark.services, pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


class TestSignIn:
    async def test_wrong_password_is_refused_with_a_message(self, page: Page, make_user):
        person = make_user("customer")
        await page.goto("/signin")
        await page.get_by_label("Mobile phone number").fill(person.phone)
        await page.get_by_label("Password").fill("not the password")
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("status")).to_have_text("Wrong phone number or password.")
        await screenshots(page, "signin-error")

    async def test_a_protected_page_sends_to_sign_in_and_back(self, page: Page, make_user):
        person = make_user("customer")
        await page.goto("/portal/profile")
        await page.wait_for_url("**/signin?next=*")
        await page.get_by_label("Mobile phone number").fill(person.phone)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url("**/portal/profile")


# Every value of both storages: no token may be among them.
STORAGES = """() => [localStorage, sessionStorage].flatMap(
  (s) => Object.keys(s).map((k) => [k, s.getItem(k)]))"""


def refresh_cookies(cookies: list[Any]) -> list[Any]:
    return [c for c in cookies if c["name"] == "wb_refresh"]


class TestSession:
    """The refresh token in an HttpOnly cookie, the access token in the page's memory."""

    async def test_no_token_in_storage_and_the_cookie_is_out_of_scripts_reach(
        self, page: Page, context: BrowserContext, make_user
    ):
        await sign_in(page, make_user("customer"), expect_path="/portal")
        await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        stored = await page.evaluate(STORAGES)
        assert not [kv for kv in stored if JWT.search(kv[1] or "")], stored
        assert "wb_refresh" not in await page.evaluate("document.cookie")
        [cookie] = refresh_cookies(await context.cookies())
        assert JWT.fullmatch(cookie["value"])
        assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Strict", "/auth")

    async def test_a_reload_and_other_pages_keep_you_signed_in(self, page: Page, make_user):
        await sign_in(page, make_user("customer"), expect_path="/portal")
        await page.reload()
        await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        await page.goto("/portal/profile")
        await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        assert page.url.endswith("/portal/profile")
        await screenshots(page, "session-after-reload")

    async def test_sign_out_ends_the_session(self, page: Page, context: BrowserContext, make_user):
        await sign_in(page, make_user("customer"), expect_path="/portal")
        await page.get_by_role("button", name="Sign out").click()
        await page.wait_for_url("**/signin")
        assert refresh_cookies(await context.cookies()) == []
        assert await page.evaluate(STORAGES) == []
        await page.goto("/portal")
        await page.wait_for_url("**/signin?next=*")

    async def test_a_revoked_cookie_sends_back_to_sign_in(
        self, page: Page, context: BrowserContext, make_user, db
    ):
        await sign_in(page, make_user("customer"), expect_path="/portal")
        db.execute("UPDATE refresh_token SET revoked_at = now() - interval '1 hour'")
        await page.reload()
        await page.wait_for_url("**/signin?next=*")
        assert refresh_cookies(await context.cookies()) == []


class TestSignUp:
    async def test_register_then_activate_with_the_sms_code(
        self, page: Page, live_server: LiveServer, db
    ):
        phone = next_phone()
        await page.goto("/signup")
        await page.get_by_label("Mobile phone number").fill(phone)
        await page.get_by_label("First name").fill("Ngo")
        await page.get_by_label("Last name").fill("Bassa")
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_label("Language", exact=True).nth(1).select_option("fr")
        await screenshots(page, "signup-details")
        await page.get_by_role("button", name="Create an account").click()
        await expect(page.get_by_label("Code received by SMS")).to_be_visible()
        row = db.execute(
            "SELECT is_active, language FROM app_user WHERE phone = %s", [phone]
        ).fetchone()
        assert row == (False, "fr")
        await page.get_by_label("Code received by SMS").fill(live_server.last_code(phone))
        await screenshots(page, "signup-code")
        await page.get_by_role("button", name="Activate my account").click()
        await page.wait_for_url("**/portal")
        assert db.execute("SELECT is_active FROM app_user WHERE phone = %s", [phone]).fetchone()
        # The account's language now drives the pages.
        await expect(page.locator("html")).to_have_attribute("lang", "fr")

    async def test_a_wrong_code_says_so(self, page: Page):
        await page.goto("/signup")
        await page.get_by_label("Mobile phone number").fill(next_phone())
        await page.get_by_label("First name").fill("A")
        await page.get_by_label("Last name").fill("B")
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Create an account").click()
        await page.get_by_label("Code received by SMS").fill("000000")
        await page.get_by_role("button", name="Activate my account").click()
        await expect(page.get_by_role("status")).to_have_text("This code is wrong or has expired.")

    async def test_a_bad_national_number_is_answered_in_french(
        self, page: Page, live_server: LiveServer
    ):
        await page.context.add_cookies([{"name": "wb_lang", "value": "fr", "url": live_server.url}])
        await page.goto("/signup")
        # Nine digits, but no Cameroonian number (the deployment's country) starts with 1.
        await page.get_by_label("Numéro de mobile").fill("123 456 789")
        await page.get_by_label("Prénom").fill("Ngo")
        await page.get_by_label("Nom", exact=True).fill("Bassa")
        await page.get_by_label("Mot de passe").fill(PASSWORD)
        await page.get_by_role("button", name="Créer un compte").click()
        error = page.locator("#phone-error")
        await expect(error).to_have_text(
            "Ce numéro de téléphone n'est pas valide. Vérifiez-le ou ajoutez l'indicatif du pays"
            " (+237, +675)."
        )
        await expect(page.get_by_label("Numéro de mobile")).to_have_attribute(
            "aria-invalid", "true"
        )
        await screenshots(page, "signup-bad-phone-fr")


class TestLanguage:
    async def test_switching_language_translates_and_is_remembered(self, page: Page, make_user, db):
        person = make_user("customer")
        await sign_in(page, person, expect_path="/portal")
        await page.get_by_label("Language").first.select_option("tpi")
        await expect(page.locator("html")).to_have_attribute("lang", "tpi")
        await expect(page.get_by_role("button", name="Lusim")).to_be_visible()
        language = db.execute("SELECT language FROM app_user WHERE id = %s", [person.id]).fetchone()
        assert language == ("tpi",)
        await page.goto("/signin")
        await expect(page.locator("html")).to_have_attribute("lang", "tpi")
