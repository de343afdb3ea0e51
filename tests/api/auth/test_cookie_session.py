"""The web app's session (issue 14, "Headers and tokens in the browser"): the refresh token in an
HttpOnly, Secure, SameSite=Strict cookie scoped to /auth, CSRF checks where the cookie
authenticates, rotation and reuse detection as in the body flow, and logout clearing it."""

from collections.abc import AsyncIterator
from http.cookies import SimpleCookie

import httpx
import pytest
from fastapi import FastAPI

from core.config import Settings
from core.config_auth import AuthSettings
from tests.api.auth.conftest import PASSWORD, RAISED, last_code, next_phone

pytestmark = pytest.mark.services

# What Chromium sends with a fetch() from one of our pages.
SAME_SITE = {
    "X-WaterBill-Session": "cookie",
    "Origin": "https://testserver",
    "Sec-Fetch-Site": "same-origin",
}


@pytest.fixture
async def web(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client over https, as the pages are served in production: it keeps Secure cookies."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://testserver"
    ) as http:
        yield http


def set_cookie(answer: httpx.Response) -> SimpleCookie:
    cookies = answer.headers.get_list("set-cookie")
    assert len(cookies) == 1, cookies
    jar = SimpleCookie()
    jar.load(cookies[0])
    return jar


def refresh_cookie(answer: httpx.Response) -> str:
    return set_cookie(answer)["wb_refresh"].value


def sent(cookie: str) -> dict[str, str]:
    """Headers of a page's fetch carrying ``cookie`` (instead of the client's jar)."""
    return {**SAME_SITE, "Cookie": f"wb_refresh={cookie}"}


async def sign_in(web: httpx.AsyncClient, phone: str) -> httpx.Response:
    answer = await web.post(
        "/auth/login", json={"phone": phone, "password": PASSWORD}, headers=SAME_SITE
    )
    assert answer.status_code == 200, answer.text
    return answer


async def me(web: httpx.AsyncClient, access: str) -> int:
    answer = await web.get("/users/me", headers={"Authorization": f"Bearer {access}"})
    return answer.status_code


class TestTheCookieIsSet:
    async def test_sign_in_sets_an_httponly_secure_strict_cookie_scoped_to_auth(
        self, web, make_account, settings
    ):
        account = await make_account()
        answer = await sign_in(web, account.phone)
        morsel = set_cookie(answer)["wb_refresh"]
        assert morsel["httponly"] is True
        assert morsel["secure"] is True
        assert morsel["samesite"] == "strict"
        assert morsel["path"] == "/auth"
        assert morsel["max-age"] == str(settings.auth.refresh_token_days * 86_400)
        body = answer.json()
        assert body["refresh_token"] is None
        assert await me(web, body["access_token"]) == 200

    async def test_activation_sets_it_too(self, web, outbox):
        phone = next_phone()
        await web.post(
            "/auth/register",
            json={
                "phone": phone,
                "first_name": "Amina",
                "last_name": "Njoya",
                "password": PASSWORD,
                "language": "fr",
            },
        )
        answer = await web.post(
            "/auth/activate",
            json={"phone": phone, "code": last_code(outbox, phone)},
            headers=SAME_SITE,
        )
        assert answer.status_code == 200
        assert answer.json()["refresh_token"] is None
        assert refresh_cookie(answer)

    async def test_an_api_client_gets_the_token_in_json_and_no_cookie(self, web, make_account):
        account = await make_account()
        answer = await web.post("/auth/login", json={"phone": account.phone, "password": PASSWORD})
        assert answer.status_code == 200
        assert answer.json()["refresh_token"]
        assert "set-cookie" not in answer.headers


class TestPlainHttpDevelopment:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        auth = AuthSettings.model_validate({**RAISED, "cookie_secure": False})
        return settings.model_copy(update={"auth": auth})

    async def test_secure_can_be_turned_off(self, web, make_account):
        account = await make_account()
        morsel = set_cookie(await sign_in(web, account.phone))["wb_refresh"]
        assert morsel["secure"] == ""
        assert morsel["httponly"] is True


class TestRefreshByCookie:
    async def test_rotates_the_cookie(self, web, make_account):
        account = await make_account()
        first = refresh_cookie(await sign_in(web, account.phone))
        answer = await web.post("/auth/refresh", headers=sent(first))
        assert answer.status_code == 200, answer.text
        second = refresh_cookie(answer)
        assert second != first
        assert answer.json()["refresh_token"] is None
        assert await me(web, answer.json()["access_token"]) == 200
        again = await web.post("/auth/refresh", headers=sent(second))
        assert again.status_code == 200

    async def test_the_jar_of_a_browser_sends_it_by_itself(self, web, make_account):
        account = await make_account()
        await sign_in(web, account.phone)
        answer = await web.post("/auth/refresh", headers=SAME_SITE)
        assert answer.status_code == 200, answer.text

    async def test_without_the_session_header_is_refused(self, web, make_account):
        account = await make_account()
        cookie = refresh_cookie(await sign_in(web, account.phone))
        headers = {k: v for k, v in sent(cookie).items() if k != "X-WaterBill-Session"}
        answer = await web.post("/auth/refresh", headers=headers)
        assert answer.status_code == 403
        assert answer.json()["error"] == "CsrfRejected"

    @pytest.mark.parametrize(
        "forged",
        [
            {"Origin": "https://attacker.example"},
            {"Origin": "null"},
            {"Sec-Fetch-Site": "cross-site"},
            {"Sec-Fetch-Site": "same-site"},
        ],
        ids=["other-origin", "opaque-origin", "cross-site", "sibling-subdomain"],
    )
    async def test_from_another_site_is_refused(self, web, make_account, forged):
        account = await make_account()
        cookie = refresh_cookie(await sign_in(web, account.phone))
        answer = await web.post("/auth/refresh", headers={**sent(cookie), **forged})
        assert answer.status_code == 403
        assert answer.json()["error"] == "CsrfRejected"
        # Refused before use: the cookie still works from our own page.
        assert (await web.post("/auth/refresh", headers=sent(cookie))).status_code == 200

    async def test_no_token_anywhere_is_401(self, web):
        answer = await web.post("/auth/refresh", headers=SAME_SITE)
        assert answer.status_code == 401
        assert "no refresh token" in answer.json()["detail"]

    async def test_a_body_token_needs_no_header(self, web, make_account):
        account = await make_account()
        pair = (
            await web.post("/auth/login", json={"phone": account.phone, "password": PASSWORD})
        ).json()
        answer = await web.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert answer.status_code == 200
        assert answer.json()["refresh_token"]


class TestReuseOfARotatedCookie:
    async def test_a_race_within_the_grace_is_honoured(self, web, make_account):
        # Two tabs, or a page left while its refresh was in flight, send the same cookie.
        account = await make_account()
        first = refresh_cookie(await sign_in(web, account.phone))
        winner = await web.post("/auth/refresh", headers=sent(first))
        late = await web.post("/auth/refresh", headers=sent(first))
        assert late.status_code == 200
        assert await me(web, winner.json()["access_token"]) == 200
        assert (await web.post("/auth/refresh", headers=sent(refresh_cookie(winner)))).is_success

    async def test_after_the_grace_it_revokes_the_family(self, web, make_account, db):
        account = await make_account()
        first = refresh_cookie(await sign_in(web, account.phone))
        rotated = await web.post("/auth/refresh", headers=sent(first))
        db.execute(
            "UPDATE refresh_token SET revoked_at = revoked_at - interval '1 minute'"
            " WHERE revoked_at IS NOT NULL"
        )
        stolen = await web.post("/auth/refresh", headers=sent(first))
        assert stolen.status_code == 401
        assert "already used" in stolen.json()["detail"]
        cleared = set_cookie(stolen)["wb_refresh"]
        assert cleared.value == ""
        assert cleared["max-age"] == "0"
        # The rightful successor and its access token die with the family.
        successor = await web.post("/auth/refresh", headers=sent(refresh_cookie(rotated)))
        assert successor.status_code == 401
        assert await me(web, rotated.json()["access_token"]) == 401

    async def test_the_body_flow_has_no_grace(self, web, make_account):
        account = await make_account()
        body = {"phone": account.phone, "password": PASSWORD}
        token = (await web.post("/auth/login", json=body)).json()["refresh_token"]
        assert (await web.post("/auth/refresh", json={"refresh_token": token})).is_success
        reused = await web.post("/auth/refresh", json={"refresh_token": token})
        assert reused.status_code == 401


class TestSigningOutClearsIt:
    async def test_logout_by_cookie_revokes_and_clears(self, web, make_account):
        account = await make_account()
        signed_in = await sign_in(web, account.phone)
        cookie = refresh_cookie(signed_in)
        out = await web.post("/auth/logout", headers=sent(cookie))
        assert out.status_code == 204
        cleared = set_cookie(out)["wb_refresh"]
        assert (cleared.value, cleared["max-age"], cleared["path"]) == ("", "0", "/auth")
        assert (await web.post("/auth/refresh", headers=sent(cookie))).status_code == 401
        assert await me(web, signed_in.json()["access_token"]) == 401

    async def test_logout_by_cookie_needs_the_header(self, web, make_account):
        account = await make_account()
        cookie = refresh_cookie(await sign_in(web, account.phone))
        answer = await web.post("/auth/logout", headers={"Cookie": f"wb_refresh={cookie}"})
        assert answer.status_code == 403
        assert answer.json()["error"] == "CsrfRejected"

    async def test_a_password_reset_clears_it(self, web, make_account, outbox):
        account = await make_account()
        cookie = refresh_cookie(await sign_in(web, account.phone))
        await web.post("/auth/password-reset/request", json={"phone": account.phone})
        done = await web.post(
            "/auth/password-reset/confirm",
            json={
                "phone": account.phone,
                "code": last_code(outbox, account.phone),
                "new_password": "a new pass phrase",
            },
            headers=sent(cookie),
        )
        assert done.status_code == 204
        assert set_cookie(done)["wb_refresh"]["max-age"] == "0"
        assert (await web.post("/auth/refresh", headers=sent(cookie))).status_code == 401
