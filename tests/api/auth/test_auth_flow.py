import jwt
import pytest

from accounts.tokens import signing_key
from core.config_auth import PhoneValidation
from tests.api.auth.conftest import PASSWORD, last_code, next_phone

pytestmark = pytest.mark.services


async def register(api, phone, **overrides):
    body = {
        "phone": phone,
        "first_name": "Amina",
        "last_name": "Njoya",
        "password": PASSWORD,
        "language": "fr",
        **overrides,
    }
    return await api.post("/auth/register", json=body)


class TestRegister:
    async def test_national_number_creates_an_inactive_account_and_texts_a_code(
        self, api, outbox, db
    ):
        answer = await register(api, "6 58 55 22 94")
        assert answer.status_code == 202
        row = db.execute("SELECT phone, is_active, role, password_hash FROM app_user").fetchone()
        assert row[:3] == ("+237658552294", False, "customer")
        assert row[3].startswith("$argon2id$")
        sms = outbox.outbox[-1]
        assert sms.to == "+237658552294"
        assert "Votre code WaterBill est" in sms.text

    async def test_the_code_is_stored_only_as_a_keyed_hash(self, api, outbox, db):
        await register(api, "+237658552294")
        code = last_code(outbox, "+237658552294")
        (stored,) = db.execute("SELECT code_hash FROM sms_code").fetchone()
        assert code not in stored
        assert len(stored) == 64

    async def test_bad_number_is_a_422_naming_the_problem(self, api):
        answer = await register(api, "2 22 23 45 67")
        assert answer.status_code == 422
        error = answer.json()["detail"][0]
        assert error["loc"] == ["body", "phone"]
        assert "not a mobile number" in error["msg"]

    async def test_lenient_level_accepts_the_original_spec_examples(self, api, settings, db):
        settings.auth.phone_validation = PhoneValidation.LENIENT
        answer = await register(api, "1234567890")
        assert answer.status_code == 202
        assert db.execute("SELECT phone FROM app_user").fetchone() == ("+11234567890",)

    async def test_registered_number_gets_the_same_answer_and_keeps_its_password(
        self, api, outbox, make_account, db
    ):
        account = await make_account()
        fresh = await register(api, next_phone())
        again = await register(api, account.phone, password="another password")
        assert again.status_code == fresh.status_code == 202
        assert again.json() == fresh.json()
        assert "already has an account" in outbox.outbox[-1].text
        login = await api.post("/auth/login", json={"phone": account.phone, "password": PASSWORD})
        assert login.status_code == 200
        assert db.execute("SELECT count(*) FROM app_user").fetchone() == (2,)


class TestActivate:
    async def test_the_code_activates_and_signs_in(self, api, outbox, db):
        await register(api, "+237658552294")
        code = last_code(outbox, "+237658552294")
        answer = await api.post("/auth/activate", json={"phone": "658552294", "code": code})
        assert answer.status_code == 200
        assert answer.json()["token_type"] == "bearer"
        assert db.execute("SELECT is_active FROM app_user").fetchone() == (True,)

    async def test_a_code_is_accepted_once(self, api, outbox):
        await register(api, "+237658552294")
        code = last_code(outbox, "+237658552294")
        body = {"phone": "+237658552294", "code": code}
        assert (await api.post("/auth/activate", json=body)).status_code == 200
        assert (await api.post("/auth/activate", json=body)).status_code == 400

    async def test_five_wrong_tries_kill_the_code(self, api, outbox, db):
        await register(api, "+237658552294")
        code = last_code(outbox, "+237658552294")
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        for _ in range(5):
            answer = await api.post(
                "/auth/activate", json={"phone": "+237658552294", "code": wrong}
            )
            assert answer.status_code == 400
        assert db.execute("SELECT attempts FROM sms_code").fetchone() == (5,)
        answer = await api.post("/auth/activate", json={"phone": "+237658552294", "code": code})
        assert answer.status_code == 400

    async def test_an_expired_code_is_refused(self, api, outbox, db):
        await register(api, "+237658552294")
        code = last_code(outbox, "+237658552294")
        db.execute("UPDATE sms_code SET expires_at = now() - interval '1 second'")
        answer = await api.post("/auth/activate", json={"phone": "+237658552294", "code": code})
        assert answer.status_code == 400

    async def test_unknown_number_gets_the_same_answer_as_a_wrong_code(self, api, outbox):
        await register(api, "+237658552294")
        code = last_code(outbox, "+237658552294")
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        known = await api.post("/auth/activate", json={"phone": "+237658552294", "code": wrong})
        unknown = await api.post("/auth/activate", json={"phone": next_phone(), "code": code})
        assert known.status_code == unknown.status_code == 400
        assert known.json() == unknown.json()

    async def test_a_resent_code_replaces_the_old_one(self, api, outbox):
        await register(api, "+237658552294")
        first = last_code(outbox, "+237658552294")
        await api.post("/auth/resend-code", json={"phone": "+237658552294"})
        second = last_code(outbox, "+237658552294")
        if first != second:
            stale = await api.post("/auth/activate", json={"phone": "+237658552294", "code": first})
            assert stale.status_code == 400
        fresh = await api.post("/auth/activate", json={"phone": "+237658552294", "code": second})
        assert fresh.status_code == 200


class TestResendLimits:
    @pytest.fixture
    def settings(self, settings):
        settings.auth.code_cooldown_s = 60
        return settings

    async def test_a_second_send_within_the_cooldown_is_429_with_retry_after(self, api):
        await register(api, "+237658552294")
        answer = await api.post("/auth/resend-code", json={"phone": "+237658552294"})
        assert answer.status_code == 429
        assert 55 <= int(answer.headers["Retry-After"]) <= 60

    async def test_unknown_numbers_get_the_same_cooldown(self, api):
        phone = next_phone()
        first = await api.post("/auth/resend-code", json={"phone": phone})
        second = await api.post("/auth/resend-code", json={"phone": phone})
        assert (first.status_code, second.status_code) == (202, 429)

    async def test_five_sends_a_day_at_most(self, api, db, outbox):
        await register(api, "+237658552294")
        for _ in range(4):
            db.execute("UPDATE sms_send_log SET sent_at = sent_at - interval '2 minutes'")
            answer = await api.post("/auth/resend-code", json={"phone": "+237658552294"})
            assert answer.status_code == 202
        db.execute("UPDATE sms_send_log SET sent_at = sent_at - interval '2 minutes'")
        answer = await api.post("/auth/resend-code", json={"phone": "+237658552294"})
        assert answer.status_code == 429
        assert "all the codes it can get from here today" in answer.json()["detail"]
        assert len([s for s in outbox.outbox if s.to == "+237658552294"]) == 5


class TestLogin:
    async def test_tokens_carry_the_product_claims(self, api, make_account, settings):
        account = await make_account("manager")
        answer = await api.post("/auth/login", json={"phone": account.phone, "password": PASSWORD})
        body = answer.json()
        claims = jwt.decode(body["access_token"], signing_key(settings), algorithms=["HS256"])
        assert {
            "user_id",
            "phone",
            "first_name",
            "last_name",
            "full_name",
            "role",
            "is_active",
            "exp",
            "iat",
            "jti",
        } <= set(claims)
        assert (claims["user_id"], claims["role"], claims["full_name"]) == (
            account.id,
            "manager",
            "Test Manager",
        )
        assert claims["exp"] - claims["iat"] == 15 * 60
        refresh = jwt.decode(body["refresh_token"], signing_key(settings), algorithms=["HS256"])
        assert refresh["exp"] - refresh["iat"] == 7 * 24 * 3600

    async def test_wrong_password_and_unknown_phone_answer_alike(self, api, make_account):
        account = await make_account()
        wrong = await api.post("/auth/login", json={"phone": account.phone, "password": "nope"})
        unknown = await api.post("/auth/login", json={"phone": next_phone(), "password": "nope"})
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json() == unknown.json()

    async def test_inactive_account_is_told_to_activate(self, api, make_account):
        account = await make_account(active=False)
        answer = await api.post("/auth/login", json={"phone": account.phone, "password": PASSWORD})
        assert answer.status_code == 403
        assert "activate" in answer.json()["detail"]

    async def test_failures_and_successes_are_audited(self, api, make_account, db):
        account = await make_account()
        await api.post("/auth/login", json={"phone": account.phone, "password": "nope"})
        rows = db.execute("SELECT action, actor_id, host(ip) FROM audit_log ORDER BY id").fetchall()
        assert rows == [
            ("auth.login_succeeded", account.id, "127.0.0.1"),
            ("auth.login_failed", account.id, "127.0.0.1"),
        ]


class TestRefresh:
    async def test_rotation_returns_a_new_pair_and_blacklists_the_old(self, api, make_account):
        account = await make_account()
        pair = (
            await api.post("/auth/login", json={"phone": account.phone, "password": PASSWORD})
        ).json()
        rotated = await api.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert rotated.status_code == 200
        assert rotated.json()["refresh_token"] != pair["refresh_token"]
        again = await api.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert again.status_code == 401

    async def test_reuse_revokes_the_whole_family(self, api, make_account, db):
        account = await make_account()
        pair = (
            await api.post("/auth/login", json={"phone": account.phone, "password": PASSWORD})
        ).json()
        rotated = (
            await api.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        ).json()
        await api.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        stolen = await api.post("/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
        assert stolen.status_code == 401
        # The replay and the (now revoked) successor both count as reuse.
        assert db.execute(
            "SELECT count(*) FROM audit_log WHERE action = 'auth.token_reused'"
        ).fetchone() == (2,)

    async def test_an_access_token_is_not_a_refresh_token(self, api, make_account):
        account = await make_account()
        access = account.headers["Authorization"].removeprefix("Bearer ")
        answer = await api.post("/auth/refresh", json={"refresh_token": access})
        assert answer.status_code == 401

    async def test_a_forged_token_is_refused(self, api, make_account):
        account = await make_account()
        forged = jwt.encode(
            {"user_id": account.id, "type": "refresh", "jti": "x", "iat": 0, "exp": 2**40},
            "not the key of this deployment, but long enough" * 2,
            algorithm="HS256",
        )
        answer = await api.post("/auth/refresh", json={"refresh_token": forged})
        assert answer.status_code == 401

    async def test_logout_blacklists_the_refresh_token(self, api, make_account):
        account = await make_account()
        pair = (
            await api.post("/auth/login", json={"phone": account.phone, "password": PASSWORD})
        ).json()
        out = await api.post("/auth/logout", json={"refresh_token": pair["refresh_token"]})
        assert out.status_code == 204
        answer = await api.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert answer.status_code == 401


class TestPasswordReset:
    async def test_reset_by_code_sets_the_password_and_ends_sessions(
        self, api, make_account, outbox
    ):
        account = await make_account()
        pair = (
            await api.post("/auth/login", json={"phone": account.phone, "password": PASSWORD})
        ).json()
        asked = await api.post("/auth/password-reset/request", json={"phone": account.phone})
        assert asked.status_code == 202
        code = last_code(outbox, account.phone)
        done = await api.post(
            "/auth/password-reset/confirm",
            json={"phone": account.phone, "code": code, "new_password": "a new password"},
        )
        assert done.status_code == 204
        old = await api.post("/auth/login", json={"phone": account.phone, "password": PASSWORD})
        new = await api.post(
            "/auth/login", json={"phone": account.phone, "password": "a new password"}
        )
        assert (old.status_code, new.status_code) == (401, 200)
        stale = await api.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert stale.status_code == 401

    async def test_unknown_number_answers_the_same_and_gets_no_sms(self, api, outbox):
        phone = next_phone()
        answer = await api.post("/auth/password-reset/request", json={"phone": phone})
        assert answer.status_code == 202
        assert all(sms.to != phone for sms in outbox.outbox)
