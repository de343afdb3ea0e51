"""Sessions end when they should (issue 14, hole 6): logout, a password reset, a role change,
deactivation and a reused refresh token end the user's access tokens at once, not when they
expire."""

import jwt
import pytest

from accounts.tokens import signing_key
from tests.api.auth.conftest import PASSWORD, last_code

pytestmark = pytest.mark.services


async def _sign_in(api, phone: str) -> dict[str, str]:
    answer = await api.post("/auth/login", json={"phone": phone, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    pair: dict[str, str] = answer.json()
    return pair


def _bearer(pair: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access_token']}"}


async def _works(api, pair: dict[str, str]) -> bool:
    answer = await api.get("/users/me", headers=_bearer(pair))
    return bool(answer.status_code == 200)


class TestAccessTokensEnd:
    async def test_on_logout(self, api, make_account):
        account = await make_account()
        pair = await _sign_in(api, account.phone)
        assert await _works(api, pair)
        out = await api.post("/auth/logout", json={"refresh_token": pair["refresh_token"]})
        assert out.status_code == 204
        answer = await api.get("/users/me", headers=_bearer(pair))
        assert answer.status_code == 401
        assert "sign in again" in answer.json()["detail"]

    async def test_on_a_password_reset(self, api, make_account, outbox):
        account = await make_account()
        pair = await _sign_in(api, account.phone)
        await api.post("/auth/password-reset/request", json={"phone": account.phone})
        done = await api.post(
            "/auth/password-reset/confirm",
            json={
                "phone": account.phone,
                "code": last_code(outbox, account.phone),
                "new_password": "a new password",
            },
        )
        assert done.status_code == 204
        assert not await _works(api, pair)

    async def test_on_a_role_change(self, api, make_account):
        admin = await make_account("admin")
        account = await make_account("manager")
        pair = await _sign_in(api, account.phone)
        changed = await api.patch(
            f"/users/{account.id}", json={"role": "technician"}, headers=admin.headers
        )
        assert changed.status_code == 200
        assert not await _works(api, pair)
        # The refresh token still works and brings the new role.
        fresh = await api.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert fresh.status_code == 200
        me = await api.get("/users/me", headers=_bearer(fresh.json()))
        assert me.json()["role"] == "technician"

    async def test_on_deactivation(self, api, make_account, db):
        admin = await make_account("admin")
        account = await make_account()
        pair = await _sign_in(api, account.phone)
        await api.patch(f"/users/{account.id}", json={"is_active": False}, headers=admin.headers)
        await api.patch(f"/users/{account.id}", json={"is_active": True}, headers=admin.headers)
        assert not await _works(api, pair)
        assert db.execute(
            "SELECT count(*) FROM refresh_token WHERE user_id = %s AND revoked_at IS NULL",
            [account.id],
        ).fetchone() == (0,)

    async def test_on_a_reused_refresh_token(self, api, make_account):
        account = await make_account()
        stolen = await _sign_in(api, account.phone)
        rotated = (
            await api.post("/auth/refresh", json={"refresh_token": stolen["refresh_token"]})
        ).json()
        assert await _works(api, rotated)
        reuse = await api.post("/auth/refresh", json={"refresh_token": stolen["refresh_token"]})
        assert reuse.status_code == 401
        assert not await _works(api, rotated)

    async def test_a_profile_edit_keeps_the_session(self, api, make_account):
        account = await make_account()
        pair = await _sign_in(api, account.phone)
        await api.patch("/users/me", json={"first_name": "New"}, headers=_bearer(pair))
        assert await _works(api, pair)

    async def test_a_token_without_the_version_is_refused(self, api, make_account, settings):
        account = await make_account()
        pair = await _sign_in(api, account.phone)
        claims = jwt.decode(pair["access_token"], signing_key(settings), algorithms=["HS256"])
        del claims["ver"]
        old = jwt.encode(claims, signing_key(settings), algorithm="HS256")
        answer = await api.get("/users/me", headers={"Authorization": f"Bearer {old}"})
        assert answer.status_code == 401
