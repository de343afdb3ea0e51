"""Sign-in, sign-up with the SMS code, language switching, in a real browser."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.web.conftest import PASSWORD, LiveServer, next_phone, screenshots, sign_in

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

    async def test_sign_out_forgets_the_tokens(self, page: Page, make_user):
        await sign_in(page, make_user("customer"), expect_path="/portal")
        await page.get_by_role("button", name="Sign out").click()
        await page.wait_for_url("**/signin")
        assert await page.evaluate("localStorage.getItem('wb.access')") is None


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
