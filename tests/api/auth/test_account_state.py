"""Account state is authoritative: a deactivated or erased account stays so until an admin acts
(issue 14, hole 1)."""

import pytest

from tests.api.auth.conftest import PASSWORD, last_code

pytestmark = pytest.mark.services


async def _deactivate(api, admin, account) -> None:
    answer = await api.patch(
        f"/users/{account.id}", json={"is_active": False}, headers=admin.headers
    )
    assert answer.status_code == 200, answer.text


def _codes_to(outbox, phone: str) -> int:
    return len([sms for sms in outbox.outbox if sms.to == phone])


class TestNoSelfReactivation:
    async def test_resend_code_and_activate_do_not_bring_a_deactivated_account_back(
        self, api, make_account, outbox, db
    ):
        admin = await make_account("admin")
        account = await make_account()
        await _deactivate(api, admin, account)
        sent = _codes_to(outbox, account.phone)
        asked = await api.post(
            "/auth/resend-code", json={"phone": account.phone, "purpose": "activation"}
        )
        assert asked.status_code == 202
        assert _codes_to(outbox, account.phone) == sent
        for code in ("000000", "123456"):
            answer = await api.post("/auth/activate", json={"phone": account.phone, "code": code})
            assert answer.status_code == 400
        row = db.execute("SELECT is_active FROM app_user WHERE id = %s", [account.id]).fetchone()
        assert row == (False,)

    async def test_signing_up_again_sends_no_code_to_a_deactivated_account(
        self, api, make_account, outbox
    ):
        admin = await make_account("admin")
        account = await make_account()
        await _deactivate(api, admin, account)
        sent = _codes_to(outbox, account.phone)
        body = {"phone": account.phone, "first_name": "A", "last_name": "B", "password": PASSWORD}
        answer = await api.post("/auth/register", json=body)
        assert answer.status_code == 202
        assert _codes_to(outbox, account.phone) == sent

    async def test_a_code_issued_before_deactivation_no_longer_activates(
        self, api, make_account, outbox
    ):
        admin = await make_account("admin")
        pending = await make_account(active=False)
        await api.post("/auth/resend-code", json={"phone": pending.phone})
        code = last_code(outbox, pending.phone)
        await _deactivate(api, admin, pending)
        answer = await api.post("/auth/activate", json={"phone": pending.phone, "code": code})
        assert answer.status_code == 400

    async def test_password_reset_does_not_bring_a_deactivated_account_back(
        self, api, make_account, outbox
    ):
        admin = await make_account("admin")
        account = await make_account()
        await api.post("/auth/password-reset/request", json={"phone": account.phone})
        code = last_code(outbox, account.phone)
        await _deactivate(api, admin, account)
        done = await api.post(
            "/auth/password-reset/confirm",
            json={"phone": account.phone, "code": code, "new_password": "a new password"},
        )
        assert done.status_code == 400
        login = await api.post(
            "/auth/login", json={"phone": account.phone, "password": "a new password"}
        )
        assert login.status_code == 401

    async def test_a_deactivated_account_is_told_to_ask_an_admin(self, api, make_account):
        admin = await make_account("admin")
        account = await make_account()
        await _deactivate(api, admin, account)
        answer = await api.post("/auth/login", json={"phone": account.phone, "password": PASSWORD})
        assert answer.status_code == 403
        assert "administrator" in answer.json()["detail"]

    async def test_an_erased_account_gets_no_code_and_stays_erased(
        self, api, make_account, outbox, db
    ):
        account = await make_account()
        erased = await api.post(
            "/users/me/erase", json={"password": PASSWORD}, headers=account.headers
        )
        assert erased.status_code == 204
        await api.post("/auth/resend-code", json={"phone": account.phone})
        await api.post("/auth/password-reset/request", json={"phone": account.phone})
        assert _codes_to(outbox, account.phone) == 0
        row = db.execute(
            "SELECT is_active, erased_at IS NOT NULL FROM app_user WHERE id = %s", [account.id]
        ).fetchone()
        assert row == (False, True)

    async def test_only_an_admin_reactivates(self, api, make_account):
        admin = await make_account("admin")
        account = await make_account()
        await _deactivate(api, admin, account)
        back = await api.patch(
            f"/users/{account.id}", json={"is_active": True}, headers=admin.headers
        )
        assert back.status_code == 200
        answer = await api.post("/auth/login", json={"phone": account.phone, "password": PASSWORD})
        assert answer.status_code == 200

    async def test_a_sign_up_awaiting_its_code_still_activates(self, api, make_account, outbox):
        pending = await make_account(active=False)
        await api.post("/auth/resend-code", json={"phone": pending.phone})
        code = last_code(outbox, pending.phone)
        answer = await api.post("/auth/activate", json={"phone": pending.phone, "code": code})
        assert answer.status_code == 200

