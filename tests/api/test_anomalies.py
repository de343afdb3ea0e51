"""The anomalies API, the meter forecast and alert preferences, through the real app and DB."""

import asyncio
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import psycopg
import psycopg.types.json
import pytest

from accounts.models import Role, User
from accounts.tokens import TokenType, encode_token
from billing.tariffs import service as billing_service
from billing.tariffs.pricing import compute_invoice
from core.countries import Language
from registry.models import DwellingType
from tests import clock

pytestmark = pytest.mark.services


def _id(cursor: psycopg.Cursor) -> int:
    row = cursor.fetchone()
    assert row is not None
    return int(row[0])


@dataclass
class Place:
    building: int
    dwelling: int
    meter: int


@dataclass
class Setting:
    """Two buildings of one Douala zone: A (the customer's, managed by the manager) and B (on
    the technician's round), with incidents on both, and a client per role."""

    db: psycopg.Connection
    zone: int
    a: Place
    b: Place
    incidents: dict[str, int]
    users: dict[str, int]
    headers: dict[str, dict[str, str]]
    now: datetime

    def as_(self, role: str) -> dict[str, Any]:
        return {"headers": self.headers[role]}


@pytest.fixture
async def setting(db, session, settings) -> Setting:
    zone = _id(
        db.execute(
            "INSERT INTO zone (country_code, code, name) VALUES ('CM', 'DLA', 'Douala')"
            " RETURNING id"
        )
    )
    users: dict[str, int] = {}
    headers: dict[str, dict[str, str]] = {}
    for n, role in enumerate(Role):
        user = User(
            phone=f"+23765000{n:04d}",
            first_name=role.value,
            last_name="T",
            language=Language.EN,
            role=role,
            is_active=True,
            password_hash="-",
        )
        session.add(user)
        await session.commit()
        users[role.value] = user.id
        token = encode_token(user, settings=settings, token_type=TokenType.ACCESS).token
        headers[role.value] = {"Authorization": f"Bearer {token}"}
    places = []
    for name in ("A", "B"):
        building = _id(
            db.execute(
                "INSERT INTO building (zone_id, name) VALUES (%s, %s) RETURNING id", [zone, name]
            )
        )
        dwelling = _id(
            db.execute(
                "INSERT INTO dwelling (building_id, reference, dwelling_type)"
                " VALUES (%s, 'D1', 'apartment') RETURNING id",
                [building],
            )
        )
        meter = _id(
            db.execute(
                "INSERT INTO meter (serial, kind, dwelling_id, installed_at)"
                " VALUES (%s, 'iot', %s, '2026-01-01Z') RETURNING id",
                [f"WB-{name}", dwelling],
            )
        )
        places.append(Place(building, dwelling, meter))
    a, b = places
    db.execute(
        "INSERT INTO dwelling_occupant (user_id, dwelling_id, relation, start_date)"
        " VALUES (%s, %s, 'tenant', '2020-01-01')",
        [users["customer"], a.dwelling],
    )
    db.execute(
        "INSERT INTO building_manager (user_id, building_id) VALUES (%s, %s)",
        [users["manager"], a.building],
    )
    db.execute(
        "INSERT INTO technician_assignment (technician_id, building_id) VALUES (%s, %s)",
        [users["technician"], b.building],
    )

    now = clock.now()

    def incident(meter: int, kind: str, status: str, start_days: int, end_days: int | None) -> int:
        ended = None if end_days is None else now - timedelta(days=end_days)
        return _id(
            db.execute(
                "INSERT INTO incident (meter_id, kind, severity, status, started_at,"
                " last_seen_at, ended_at, evidence) VALUES (%s, %s, 'warning', %s, %s, %s, %s,"
                " %s) RETURNING id",
                [
                    meter,
                    kind,
                    status,
                    now - timedelta(days=start_days),
                    ended or now,
                    ended,
                    psycopg.types.json.Jsonb({"night_min_lph": 14.0, "nights": 5}),
                ],
            )
        )

    incidents = {
        "leak": incident(a.meter, "leak", "open", 3, None),
        "burst": incident(a.meter, "burst", "resolved", 10, 9),
        "stuck": incident(b.meter, "stuck", "open", 1, None),
    }
    return Setting(db, zone, a, b, incidents, users, headers, now)


async def ids(client: httpx.AsyncClient, setting: Setting, role: str, **params: Any) -> list[int]:
    answer = await client.get("/anomalies", params=params, **setting.as_(role))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["total"] >= len(body["items"])
    return [item["id"] for item in body["items"]]


class TestList:
    async def test_filters(self, client, setting):
        i = setting.incidents
        assert await ids(client, setting, "admin") == [i["stuck"], i["leak"], i["burst"]]
        assert await ids(client, setting, "admin", meter_id=setting.a.meter) == [
            i["leak"],
            i["burst"],
        ]
        assert await ids(client, setting, "admin", building_id=setting.b.building) == [i["stuck"]]
        assert await ids(client, setting, "admin", kind="burst") == [i["burst"]]
        assert await ids(client, setting, "admin", state="open") == [i["stuck"], i["leak"]]
        assert await ids(client, setting, "admin", state="closed") == [i["burst"]]
        since = (setting.now - timedelta(days=8)).isoformat()
        assert await ids(client, setting, "admin", since=since) == [i["stuck"], i["leak"]]
        until = (setting.now - timedelta(days=5)).isoformat()
        assert await ids(client, setting, "admin", until=until) == [i["burst"]]

    async def test_paging_counts_every_match(self, client, setting):
        answer = await client.get("/anomalies?limit=1&offset=1", **setting.as_("admin"))
        body = answer.json()
        assert body["total"] == 3
        assert [item["id"] for item in body["items"]] == [setting.incidents["leak"]]
        item = body["items"][0]
        assert item["serial"] == "WB-A"
        assert item["building_id"] == setting.a.building
        assert item["state"] == "open"

    async def test_each_role_sees_its_reach(self, client, setting):
        i = setting.incidents
        assert await ids(client, setting, "customer") == [i["leak"], i["burst"]]
        assert await ids(client, setting, "manager") == [i["leak"], i["burst"]]
        assert await ids(client, setting, "technician") == [i["stuck"]]
        # A filter naming something out of reach finds nothing rather than leaking it.
        assert await ids(client, setting, "customer", meter_id=setting.b.meter) == []

    @pytest.mark.parametrize(
        "params",
        [{"state": "live"}, {"kind": "flood"}, {"meter_id": 0}, {"limit": 0}],
    )
    async def test_bad_filters_are_422(self, client, setting, params):
        answer = await client.get("/anomalies", params=params, **setting.as_("admin"))
        assert answer.status_code == 422

    async def test_a_reversed_time_range_is_422(self, client, setting):
        answer = await client.get(
            "/anomalies",
            params={
                "since": setting.now.isoformat(),
                "until": (setting.now - timedelta(days=1)).isoformat(),
            },
            **setting.as_("admin"),
        )
        assert answer.status_code == 422
        assert answer.json()["detail"] == "since must be before until"


class TestDetail:
    async def test_carries_the_evidence(self, client, setting):
        answer = await client.get(
            f"/anomalies/{setting.incidents['leak']}", **setting.as_("customer")
        )
        assert answer.status_code == 200
        body = answer.json()
        assert body["evidence"] == {"night_min_lph": 14.0, "nights": 5}
        assert body["kind"] == "leak"
        assert body["deliveries"] is None

    async def test_managers_see_the_sms_deliveries(self, client, setting):
        leak = setting.incidents["leak"]
        setting.db.execute(
            "WITH o AS (INSERT INTO sms_outbox (user_id, phone, language, kind, text, dedup_key,"
            " status, attempts, provider_id, sent_at) VALUES (%(u)s, '+237658552294', 'en',"
            " 'alert', 'WaterBill: leak', 'alert:' || %(i)s || ':' || %(u)s, 'sent', 1, 'SM1',"
            " now()) RETURNING id)"
            " INSERT INTO alert_delivery (incident_id, user_id, category, status, outbox_id,"
            " sent_at) SELECT %(i)s, %(u)s, 'leak', 'sent', o.id, now() FROM o",
            {"i": leak, "u": setting.users["customer"]},
        )
        answer = await client.get(f"/anomalies/{leak}", **setting.as_("manager"))
        (delivery,) = answer.json()["deliveries"]
        assert delivery["status"] == "sent"
        assert delivery["user_id"] == setting.users["customer"]
        assert delivery["provider_id"] == "SM1"
        assert (delivery["sms_status"], delivery["attempts"]) == ("sent", 1)

    async def test_out_of_reach_is_404_like_missing(self, client, setting):
        other = await client.get(
            f"/anomalies/{setting.incidents['stuck']}", **setting.as_("customer")
        )
        missing = await client.get("/anomalies/999999", **setting.as_("customer"))
        assert other.status_code == missing.status_code == 404
        assert other.json()["error"] == "IncidentNotFound"


def audit_rows(setting: Setting, action: str) -> list[tuple[Any, ...]]:
    return setting.db.execute(
        "SELECT actor_id, target_id, detail FROM audit_log WHERE action = %s ORDER BY id",
        [action],
    ).fetchall()


class TestAcknowledge:
    async def test_is_audited_once_and_idempotent(self, client, setting):
        leak = setting.incidents["leak"]
        url = f"/anomalies/{leak}/acknowledge"
        first = await client.post(url, **setting.as_("manager"))
        assert first.status_code == 200, first.text
        body = first.json()
        assert body["status"] == "acknowledged"
        assert body["acknowledged_by"] == setting.users["manager"]
        again = await client.post(url, **setting.as_("admin"))
        assert again.json()["acknowledged_by"] == setting.users["manager"]
        rows = audit_rows(setting, "incident.acknowledged")
        assert [(r[0], r[1]) for r in rows] == [(setting.users["manager"], str(leak))]

    async def test_customers_and_technicians_may_not(self, client, setting):
        for role, incident in (("customer", "leak"), ("technician", "stuck")):
            answer = await client.post(
                f"/anomalies/{setting.incidents[incident]}/acknowledge", **setting.as_(role)
            )
            assert answer.status_code == 403

    async def test_a_manager_cannot_reach_other_buildings(self, client, setting):
        answer = await client.post(
            f"/anomalies/{setting.incidents['stuck']}/acknowledge", **setting.as_("manager")
        )
        assert answer.status_code == 404


class TestResolve:
    async def test_an_ongoing_condition_needs_a_note(self, client, setting):
        url = f"/anomalies/{setting.incidents['leak']}/resolve"
        bare = await client.post(url, **setting.as_("manager"))
        assert bare.status_code == 422
        assert bare.json()["error"] == "NoteRequired"
        blank = await client.post(url, json={"note": "  "}, **setting.as_("manager"))
        assert blank.status_code == 422
        noted = await client.post(
            url, json={"note": "plumber booked for Monday"}, **setting.as_("manager")
        )
        assert noted.status_code == 200, noted.text
        body = noted.json()
        assert (body["status"], body["state"]) == ("closed", "closed")
        assert body["closed_by"] == setting.users["manager"]
        assert body["note"] == "plumber booked for Monday"
        assert body["ended_at"] is not None
        (row,) = audit_rows(setting, "incident.closed")
        assert row[2]["ongoing"] is True
        assert row[2]["note"] == "plumber booked for Monday"

    async def test_a_condition_that_is_over_closes_without_a_note(self, client, setting):
        burst = setting.incidents["burst"]
        answer = await client.post(f"/anomalies/{burst}/resolve", **setting.as_("admin"))
        assert answer.status_code == 200
        body = answer.json()
        assert body["status"] == "closed"
        # The end the scan saw is kept.
        assert datetime.fromisoformat(body["ended_at"]) < setting.now - timedelta(days=8)

    async def test_closed_is_final(self, client, setting):
        url = f"/anomalies/{setting.incidents['burst']}"
        assert (await client.post(f"{url}/resolve", **setting.as_("admin"))).status_code == 200
        again = await client.post(f"{url}/resolve", **setting.as_("admin"))
        assert again.status_code == 409
        assert again.json()["error"] == "IncidentAlreadyClosed"
        ack = await client.post(f"{url}/acknowledge", **setting.as_("admin"))
        assert ack.status_code == 409


def daily(setting: Setting, meter: int, days: int, litres: int = 400) -> None:
    today = clock.today_in("Africa/Douala")
    setting.db.execute(
        "INSERT INTO meter_daily (meter_id, day, volume_l, start_index_l, end_index_l,"
        " reading_count) SELECT %s, d::date, %s, 0, 0, 24"
        " FROM generate_series(%s::date - %s, %s::date - 1, interval '1 day') d",
        [meter, litres, today, days, today],
    )


async def add_tariff(client: httpx.AsyncClient, setting: Setting) -> int:
    answer = await client.post(
        "/tariffs",
        json={
            "country_code": "CM",
            "effective_from": "2026-01-01",
            "allow_backdated": True,
            "blocks": [
                {"upper_m3": "10", "price_per_m3": "365"},
                {"upper_m3": None, "price_per_m3": "550"},
            ],
            "subscriptions": dict.fromkeys(
                ("apartment", "house", "commercial", "communal"), "1000"
            ),
            "service_fee": "500",
            "vat_pct": "19.25",
        },
        **setting.as_("admin"),
    )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


class TestForecast:
    async def test_thirty_days_and_the_next_invoice(self, client, setting, session):
        today = clock.today_in("Africa/Douala")
        daily(setting, setting.a.meter, 56)
        tariff_id = await add_tariff(client, setting)
        answer = await client.get(f"/meters/{setting.a.meter}/forecast", **setting.as_("customer"))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["timezone"] == "Africa/Douala"
        assert len(body["days"]) == 30
        assert body["days"][0]["day"] == today.isoformat()
        assert {d["expected_l"] for d in body["days"]} == {400}
        assert all(d["lower_l"] <= d["expected_l"] <= d["upper_l"] for d in body["days"])
        assert body["total_l"] == 30 * 400
        invoice = body["invoice"]
        start = today.replace(day=1)
        assert invoice["period_start"] == start.isoformat()
        assert invoice["consumed_l"] == 400 * (today - start).days
        assert invoice["tariff_id"] == tariff_id
        assert invoice["currency"] == "XAF"
        # Measured days plus the forecast to the month's end, priced by the billing engine.
        end = date.fromisoformat(invoice["period_end"])
        version = await billing_service.get_tariff_version(session, tariff_id=tariff_id)
        expected = compute_invoice(
            billing_service.as_tariff(version),
            volume_l=400 * ((end - start).days + 1),
            period_days=(end - start).days + 1,
            dwelling_type=DwellingType.APARTMENT,
        )
        assert invoice["total_minor"] == expected.total.to_minor()
        assert Decimal(invoice["total"]) == expected.total.amount
        assert invoice["low_total_minor"] <= invoice["total_minor"] <= invoice["high_total_minor"]
        assert invoice["expected"]["total_minor"] == invoice["total_minor"]

    async def test_without_a_tariff_the_forecast_still_comes(self, client, setting):
        daily(setting, setting.a.meter, 20)
        answer = await client.get(f"/meters/{setting.a.meter}/forecast", **setting.as_("admin"))
        assert answer.status_code == 200
        body = answer.json()
        assert body["invoice"] is None
        assert body["invoice_unavailable"].startswith("no tariff in force")
        assert len(body["days"]) == 30

    async def test_a_meter_without_a_dwelling_has_no_invoice(self, client, setting):
        setting.db.execute("UPDATE meter SET dwelling_id = NULL WHERE id = %s", [setting.b.meter])
        daily(setting, setting.b.meter, 20)
        answer = await client.get(f"/meters/{setting.b.meter}/forecast", **setting.as_("admin"))
        assert answer.json()["invoice_unavailable"] == (
            f"meter {setting.b.meter} is not on a dwelling: no tariff applies"
        )

    async def test_too_little_history_is_422(self, client, setting):
        daily(setting, setting.a.meter, 5)
        answer = await client.get(f"/meters/{setting.a.meter}/forecast", **setting.as_("admin"))
        assert answer.status_code == 422
        assert answer.json()["error"] == "NotEnoughHistory"

    async def test_technicians_get_no_invoice_estimates(self, client, setting):
        answer = await client.get(
            f"/meters/{setting.b.meter}/forecast", **setting.as_("technician")
        )
        assert answer.status_code == 403


def _pool_connections(db: psycopg.Connection) -> int:
    row = db.execute(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND application_name = 'waterbill-api'"
    ).fetchone()
    assert row is not None
    return int(row[0])


class TestPool:
    async def test_forecasts_share_the_pool_and_it_closes_on_shutdown(self, setting, settings):
        from api.app import create_app

        daily(setting, setting.a.meter, 20)
        app = create_app(settings.model_copy(update={"db_pool_min": 1, "db_pool_max": 2}))
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver"
            ) as http,
        ):
            for _ in range(6):
                answer = await http.get(
                    f"/meters/{setting.a.meter}/forecast", **setting.as_("admin")
                )
                assert answer.status_code == 200, answer.text
            assert 1 <= _pool_connections(setting.db) <= 2
        deadline = time.monotonic() + 10
        while _pool_connections(setting.db) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert _pool_connections(setting.db) == 0


class TestAlertPreferences:
    async def test_mutes_read_back_and_are_audited(self, client, setting):
        url = "/users/me/alerts"
        assert (await client.get(url, **setting.as_("customer"))).json()["muted"] == []
        put = await client.put(
            url, json={"muted": ["low_battery", "leak", "leak"]}, **setting.as_("customer")
        )
        assert put.status_code == 200, put.text
        assert put.json()["muted"] == ["leak", "low_battery"]
        got = (await client.get(url, **setting.as_("customer"))).json()
        assert got["muted"] == ["leak", "low_battery"]
        assert "abnormal" in got["categories"]
        assert (await client.get(url, **setting.as_("manager"))).json()["muted"] == []
        (row,) = audit_rows(setting, "alerts.mutes_changed")
        assert row[2] == {"muted": ["leak", "low_battery"]}
        cleared = await client.put(url, json={"muted": []}, **setting.as_("customer"))
        assert cleared.json()["muted"] == []

    async def test_an_unknown_category_is_422(self, client, setting):
        answer = await client.put(
            "/users/me/alerts", json={"muted": ["spam"]}, **setting.as_("customer")
        )
        assert answer.status_code == 422
        assert "spam" in answer.text


class TestPrivacy:
    async def test_export_holds_alerts_and_erasure_drops_them(self, client, setting):
        customer = setting.users["customer"]
        await client.put("/users/me/alerts", json={"muted": ["dry"]}, **setting.as_("customer"))
        setting.db.execute(
            "INSERT INTO alert_delivery (incident_id, user_id, category, status, text, sent_at)"
            " VALUES (%s, %s, 'leak', 'sent', 'WaterBill: water keeps flowing', now())",
            [setting.incidents["leak"], customer],
        )
        export = (await client.get("/users/me/export", **setting.as_("customer"))).json()
        assert export["alerts_muted"] == ["dry"]
        (alert,) = export["alerts"]
        assert (alert["status"], alert["text"]) == ("sent", "WaterBill: water keeps flowing")
        erased = await client.post(f"/users/{customer}/erase", **setting.as_("admin"))
        assert erased.status_code == 204, erased.text
        left = setting.db.execute(
            "SELECT (SELECT count(*) FROM alert_delivery WHERE user_id = %(u)s),"
            " (SELECT count(*) FROM alert_mute WHERE user_id = %(u)s)",
            {"u": customer},
        ).fetchone()
        assert left == (0, 0)
