import psycopg
import pytest

from tests.api.auth.conftest import PASSWORD

pytestmark = pytest.mark.services


class TestAuditLogIsAppendOnly:
    async def test_update_and_delete_are_refused_by_the_database(self, make_account, db):
        await make_account()
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            db.execute("UPDATE audit_log SET action = 'nothing happened'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            db.execute("DELETE FROM audit_log")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            db.execute("TRUNCATE audit_log")
        assert db.execute("SELECT count(*) FROM audit_log").fetchone() == (1,)


class TestAuditedActions:
    async def test_a_role_change_records_who_from_where_and_what(self, api, make_account, db):
        admin = await make_account("admin")
        user = await make_account("customer")
        answer = await api.patch(
            f"/users/{user.id}", json={"role": "technician"}, headers=admin.headers
        )
        assert answer.status_code == 200
        row = db.execute(
            "SELECT actor_id, host(ip), target_type, target_id, detail FROM audit_log"
            " WHERE action = 'user.role_changed'"
        ).fetchone()
        assert row == (
            admin.id,
            "127.0.0.1",
            "user",
            str(user.id),
            {"from": "customer", "to": "technician"},
        )

    async def test_a_manager_cannot_change_roles(self, api, make_account, db):
        manager = await make_account("manager")
        answer = await api.patch(
            f"/users/{manager.id}", json={"role": "admin"}, headers=manager.headers
        )
        assert answer.status_code in (403, 404)
        assert db.execute("SELECT role FROM app_user WHERE id = %s", [manager.id]).fetchone() == (
            "manager",
        )

    async def test_sign_up_and_activation_are_audited(self, api, outbox, db):
        from tests.api.auth.conftest import last_code

        await api.post(
            "/auth/register",
            json={"phone": "658552294", "first_name": "A", "last_name": "B", "password": PASSWORD},
        )
        code = last_code(outbox, "+237658552294")
        await api.post("/auth/activate", json={"phone": "658552294", "code": code})
        actions = [r[0] for r in db.execute("SELECT action FROM audit_log ORDER BY id")]
        assert actions == ["user.registered", "user.activated"]


class TestExport:
    async def test_the_export_holds_the_profile_links_and_history(self, api, make_account, db):
        user = await make_account()
        answer = await api.get("/users/me/export", headers=user.headers)
        assert answer.status_code == 200
        data = answer.json()
        assert data["profile"]["phone"] == user.phone
        assert data["profile"]["role"] == "customer"
        assert len(data["sessions"]) == 1
        assert [a["action"] for a in data["audit_trail"]] == ["auth.login_succeeded"]
        assert "password_hash" not in str(data)
        assert db.execute(
            "SELECT actor_id FROM audit_log WHERE action = 'gdpr.exported'"
        ).fetchone() == (user.id,)


def _household(db, user_id: int) -> dict[str, int]:
    """A dwelling the user occupied in November 2026 only, with an invoice billed to them, a
    payment for it, two days of volumes (one after they left) and SMS to them."""
    zone = db.execute(
        "INSERT INTO zone (country_code, code, name) VALUES ('CM', 'GD', 'G') RETURNING id"
    ).fetchone()[0]
    building = db.execute(
        "INSERT INTO building (zone_id, name) VALUES (%s, 'B') RETURNING id", [zone]
    ).fetchone()[0]
    dwelling = db.execute(
        "INSERT INTO dwelling (building_id, reference, dwelling_type)"
        " VALUES (%s, 'G1', 'house') RETURNING id",
        [building],
    ).fetchone()[0]
    meter = db.execute(
        "INSERT INTO meter (serial, kind, dwelling_id, installed_at)"
        " VALUES ('WB-GDPR', 'iot', %s, '2026-01-01Z') RETURNING id",
        [dwelling],
    ).fetchone()[0]
    db.execute(
        "INSERT INTO dwelling_occupant (user_id, dwelling_id, relation, start_date, end_date)"
        " VALUES (%s, %s, 'tenant', '2026-11-01', '2026-11-30')",
        [user_id, dwelling],
    )
    tariff = db.execute(
        "INSERT INTO tariff (country_code, currency, effective_from, vat_pct, service_fee_minor,"
        " penalty_pct, penalty_fixed_minor) VALUES ('CM', 'XAF', '2026-01-01', 0, 0, 0, 0)"
        " RETURNING id"
    ).fetchone()[0]
    period = db.execute(
        "INSERT INTO billing_period (label, start_date, end_date)"
        " VALUES ('2026-11', '2026-11-01', '2026-11-30') RETURNING id"
    ).fetchone()[0]
    invoice = db.execute(
        "INSERT INTO invoice (kind, period_id, dwelling_id, customer_id, country_code, currency,"
        " tariff_id, dwelling_type, period_days, volume_l, net_minor, vat_minor, total_minor)"
        " VALUES ('periodic', %s, %s, %s, 'CM', 'XAF', %s, 'house', 30, 7000, 2500, 0, 2500)"
        " RETURNING id",
        [period, dwelling, user_id, tariff],
    ).fetchone()[0]
    db.execute(
        "INSERT INTO invoice_line (invoice_id, position, kind, amount_minor)"
        " VALUES (%s, 1, 'subscription', 2500)",
        [invoice],
    )
    db.execute(
        "UPDATE invoice SET status = 'issued', number = 'CM-2026-G00001',"
        " issue_date = '2026-12-02', due_date = '2026-12-17' WHERE id = %s",
        [invoice],
    )
    for reference, at in (("WBG-IN", "2026-11-20T10:00Z"), ("WBG-AFTER", "2026-12-20T10:00Z")):
        db.execute(
            "INSERT INTO payment (dwelling_id, method, status, amount_minor, currency,"
            " reference, received_at) VALUES (%s, 'cash', 'succeeded', 2500, 'XAF', %s, %s)",
            [dwelling, reference, at],
        )
    db.execute(
        "INSERT INTO meter_daily (meter_id, day, volume_l, start_index_l, end_index_l,"
        " reading_count) VALUES (%s, '2026-11-15', 230, 0, 0, 24), (%s, '2026-12-15', 990, 0, 0,"
        " 24)",
        [meter, meter],
    )
    return {"invoice": invoice, "dwelling": dwelling, "meter": meter}


def _sms(db, user, *, key: str, kind: str, text: str, status: str = "sent") -> int:
    row = db.execute(
        "INSERT INTO sms_outbox (user_id, phone, language, kind, text, dedup_key, status)"
        " VALUES (%s, %s, 'en', %s, %s, %s, %s) RETURNING id",
        [user.id, user.phone, kind, text, key, status],
    ).fetchone()
    return int(row[0])


class TestCompleteExport:
    async def test_it_is_a_file_to_download(self, api, make_account):
        user = await make_account()
        answer = await api.get("/users/me/export", headers=user.headers)
        assert answer.headers["content-type"] == "application/json"
        disposition = answer.headers["content-disposition"]
        assert disposition.startswith(f'attachment; filename="waterbill-data-{user.id}-')
        assert disposition.endswith('.json"')

    async def test_it_holds_invoices_payments_and_consumption_of_the_occupancy(
        self, api, make_account, db
    ):
        user = await make_account()
        household = _household(db, user.id)
        data = (await api.get("/users/me/export", headers=user.headers)).json()
        [invoice] = data["invoices"]
        assert (invoice["id"], invoice["number"], invoice["period"], invoice["total_minor"]) == (
            household["invoice"],
            "CM-2026-G00001",
            "2026-11",
            2500,
        )
        assert [p["reference"] for p in data["payments"]] == ["WBG-IN"]
        assert [(c["day"], c["volume_l"]) for c in data["consumption"]] == [("2026-11-15", 230)]

    async def test_it_holds_every_sms_sent_to_the_person(self, api, make_account, db):
        user = await make_account()
        other = await make_account()
        _sms(db, user, key="gx-alert", kind="alert", text="Water keeps flowing at night")
        _sms(db, user, key="gx-bill", kind="invoice_issued", text="Invoice CM-2026-1: 25 XAF")
        _sms(db, other, key="gx-other", kind="alert", text="not yours")
        data = (await api.get("/users/me/export", headers=user.headers)).json()
        sent = [(m["kind"], m["phone"], m["text"]) for m in data["sms_messages"]]
        assert sent == [
            ("alert", user.phone, "Water keeps flowing at night"),
            ("invoice_issued", user.phone, "Invoice CM-2026-1: 25 XAF"),
        ]


class TestErasure:
    async def test_erasure_blanks_personal_data_and_keeps_the_row(self, api, make_account, db):
        user = await make_account()
        answer = await api.post(
            "/users/me/erase", json={"password": PASSWORD}, headers=user.headers
        )
        assert answer.status_code == 204
        row = db.execute(
            "SELECT phone, first_name, last_name, password_hash, is_active, erased_at IS NOT NULL"
            " FROM app_user WHERE id = %s",
            [user.id],
        ).fetchone()
        assert row == (None, "", "", "", False, True)
        assert db.execute(
            "SELECT count(*) FROM refresh_token WHERE user_id = %s AND revoked_at IS NULL",
            [user.id],
        ).fetchone() == (0,)
        assert (await api.get("/users/me", headers=user.headers)).status_code == 401
        login = await api.post("/auth/login", json={"phone": user.phone, "password": PASSWORD})
        assert login.status_code == 401

    async def test_the_outbox_keeps_no_number_or_text_of_the_person(self, api, make_account, db):
        user = await make_account()
        for key, status in (("sent", "sent"), ("queued", "queued")):
            db.execute(
                "INSERT INTO sms_outbox (user_id, phone, language, kind, text, dedup_key, status)"
                " VALUES (%s, %s, 'en', 'alert', 'water keeps flowing', %s, %s)",
                [user.id, user.phone, f"gdpr-{key}", status],
            )
        answer = await api.post(
            "/users/me/erase", json={"password": PASSWORD}, headers=user.headers
        )
        assert answer.status_code == 204
        rows = db.execute(
            "SELECT dedup_key, phone, text, status::text FROM sms_outbox"
            " WHERE dedup_key LIKE 'gdpr-%%' ORDER BY dedup_key"
        ).fetchall()
        assert rows == [("gdpr-queued", "", "", "cancelled"), ("gdpr-sent", "", "", "sent")]

    async def test_billing_notices_keep_no_number_or_text(self, api, make_account, db):
        """A billing notice's SMS lives in the outbox (the notice only points at it): both keep
        the record that a reminder went out, and nothing of the person."""
        user = await make_account()
        outbox_id = _sms(db, user, key="gdpr-notice", kind="due_reminder", text="Pay CM-2026-1")
        db.execute(
            "INSERT INTO billing_notice (kind, subject_id, status, outbox_id)"
            " VALUES ('due_reminder', 1, 'claimed', %s)",
            [outbox_id],
        )
        answer = await api.post(
            "/users/me/erase", json={"password": PASSWORD}, headers=user.headers
        )
        assert answer.status_code == 204
        notice = db.execute(
            "SELECT o.kind, o.phone, o.text FROM billing_notice n"
            " JOIN sms_outbox o ON o.id = n.outbox_id WHERE n.outbox_id = %s",
            [outbox_id],
        ).fetchone()
        assert notice == ("due_reminder", "", "")
        columns = {
            row[0]
            for row in db.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_name = 'billing_notice'"
            )
        }
        assert columns.isdisjoint({"phone", "text"})

    async def test_the_number_can_sign_up_again_after_erasure(self, api, make_account):
        user = await make_account()
        await api.post("/users/me/erase", json={"password": PASSWORD}, headers=user.headers)
        again = await api.post(
            "/auth/register",
            json={"phone": user.phone, "first_name": "N", "last_name": "N", "password": PASSWORD},
        )
        assert again.status_code == 202

    async def test_erasure_wants_the_password(self, api, make_account):
        user = await make_account()
        answer = await api.post("/users/me/erase", json={"password": "wrong"}, headers=user.headers)
        assert answer.status_code == 403

    async def test_dwelling_links_stay_for_invoices(self, api, make_account, db):
        admin = await make_account("admin")
        user = await make_account()
        zone = db.execute(
            "INSERT INTO zone (country_code, code, name) VALUES ('CM', 'Z', 'Z') RETURNING id"
        ).fetchone()[0]
        building = db.execute(
            "INSERT INTO building (zone_id, name) VALUES (%s, 'B') RETURNING id", [zone]
        ).fetchone()[0]
        dwelling = db.execute(
            "INSERT INTO dwelling (building_id, reference, dwelling_type)"
            " VALUES (%s, 'A', 'house') RETURNING id",
            [building],
        ).fetchone()[0]
        db.execute(
            "INSERT INTO dwelling_occupant (user_id, dwelling_id, relation, start_date)"
            " VALUES (%s, %s, 'owner', '2024-01-01')",
            [user.id, dwelling],
        )
        answer = await api.post(f"/users/{user.id}/erase", headers=admin.headers)
        assert answer.status_code == 204
        assert db.execute(
            "SELECT count(*) FROM dwelling_occupant WHERE user_id = %s", [user.id]
        ).fetchone() == (1,)
        assert db.execute(
            "SELECT actor_id FROM audit_log WHERE action = 'gdpr.erased'"
        ).fetchone() == (admin.id,)
