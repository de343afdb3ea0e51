"""Account state is authoritative: a deactivated or erased account stays so until an admin acts
(issue 14, hole 1), and the last active admin cannot leave (hole 8)."""

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


class TestLastAdmin:
    @pytest.fixture
    async def admin(self, make_account, db):
        """The deployment's only active admin (the CLI's or fixtures' others deactivated)."""
        admin = await make_account("admin")
        db.execute(
            "UPDATE app_user SET is_active = false WHERE role = 'admin' AND id <> %s", [admin.id]
        )
        return admin

    @pytest.mark.parametrize(
        "change", [{"is_active": False}, {"role": "manager"}, {"role": "customer"}]
    )
    async def test_the_last_admin_cannot_deactivate_or_demote_itself(self, api, admin, db, change):
        answer = await api.patch(f"/users/{admin.id}", json=change, headers=admin.headers)
        assert answer.status_code == 409
        assert answer.json()["error"] == "LastAdmin"
        assert "last active admin" in answer.json()["detail"]
        row = db.execute("SELECT role, is_active FROM app_user WHERE id = %s", [admin.id])
        assert row.fetchone() == ("admin", True)

    async def test_the_last_admin_cannot_erase_itself(self, api, admin, db):
        own = await api.post("/users/me/erase", json={"password": PASSWORD}, headers=admin.headers)
        by_id = await api.post(f"/users/{admin.id}/erase", headers=admin.headers)
        assert (own.status_code, by_id.status_code) == (409, 409)
        row = db.execute("SELECT erased_at FROM app_user WHERE id = %s", [admin.id]).fetchone()
        assert row == (None,)

    async def test_with_a_second_admin_one_may_go_but_not_both(self, api, admin, make_account):
        second = await make_account("admin")
        first_out = await api.patch(
            f"/users/{admin.id}", json={"role": "manager"}, headers=second.headers
        )
        assert first_out.status_code == 200
        second_out = await api.patch(
            f"/users/{second.id}", json={"is_active": False}, headers=second.headers
        )
        assert second_out.status_code == 409

    async def test_an_inactive_admin_may_still_be_erased(self, api, admin, make_account):
        former = await make_account("admin")
        await api.patch(f"/users/{former.id}", json={"is_active": False}, headers=admin.headers)
        answer = await api.post(f"/users/{former.id}/erase", headers=admin.headers)
        assert answer.status_code == 204
