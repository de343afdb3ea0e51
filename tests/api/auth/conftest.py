"""An app with raised auth rate limits (set through settings, as production would) and the
console SMS provider, whose outbox the tests read codes from."""

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from accounts.passwords import hash_password
from core.config import Settings
from core.config_auth import AuthSettings
from core.sms import ConsoleSmsProvider

PASSWORD = "correct horse battery"
ROLES = ("customer", "manager", "technician", "admin")
_HASH = hash_password(PASSWORD)
RAISED = {
    "throttle_login": 10_000,
    "throttle_register": 10_000,
    "throttle_activate": 10_000,
    "throttle_resend": 10_000,
    "throttle_other": 10_000,
}


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """Meter logins go to a password file of this test's own (no broker to reload)."""
    mqtt = settings.mqtt.model_copy(update={"password_file": str(tmp_path / "passwd")})
    return settings.model_copy(
        update={
            "default_country": "CM",
            "auth": AuthSettings.model_validate({**RAISED, "code_cooldown_s": 0}),
            "mqtt": mqtt,
        }
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    from api.app import create_app

    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        yield http


@pytest.fixture
def outbox(app: FastAPI) -> ConsoleSmsProvider:
    provider = app.state.sms
    assert isinstance(provider, ConsoleSmsProvider)
    return provider


def last_code(outbox: ConsoleSmsProvider, phone: str) -> str:
    texts = [sms.text for sms in outbox.outbox if sms.to == phone]
    assert texts, f"no SMS sent to {phone}"
    found = re.search(r"\b(\d{6})\b", texts[-1])
    assert found, texts[-1]
    return found.group(1)


@dataclass
class Account:
    id: int
    phone: str
    role: str
    headers: dict[str, str]


_counter = iter(range(10_000_000))


def next_phone() -> str:
    """A fresh valid Cameroonian mobile number (+2376 5x xx xx xx)."""
    return f"+23765{next(_counter) % 10_000_000:07d}"


@pytest.fixture
def make_account(db: psycopg.Connection, api: httpx.AsyncClient):
    async def make(role: str = "customer", *, active: bool = True, phone: str | None = None):
        phone = phone or next_phone()
        row = db.execute(
            "INSERT INTO app_user (phone, first_name, last_name, language, role, is_active,"
            " password_hash) VALUES (%s, 'Test', %s, 'en', %s, %s, %s) RETURNING id",
            [phone, role.title(), role, active, _HASH],
        ).fetchone()
        assert row is not None
        headers: dict[str, str] = {}
        if active:
            answer = await api.post("/auth/login", json={"phone": phone, "password": PASSWORD})
            assert answer.status_code == 200, answer.text
            headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        return Account(id=row[0], phone=phone, role=role, headers=headers)

    return make


@dataclass
class World:
    ids: dict[str, dict[str, int]]  # "own"/"other" -> {building_id: ..., ...}
    accounts: dict[str, Any]
    users: dict[str, int] = field(default_factory=dict)


def _billing(db, ids: dict[str, int], *, n: int, period: int, tariff: int) -> dict[str, int]:
    """An issued invoice (with a line) of the dwelling, a regularisation of it awaiting
    approval, and a tamper hold."""
    insert = (
        "INSERT INTO invoice (kind, period_id, dwelling_id, customer_id, country_code, currency,"
        " tariff_id, corrects_invoice_id, dwelling_type, period_days, volume_l, net_minor,"
        " vat_minor, total_minor) VALUES (%s, %s, %s, %s, 'CM', 'XAF', %s, %s, 'apartment', 31,"
        " 1000, 1000, 0, 1000) RETURNING id"
    )
    args = [period, ids["dwelling_id"], ids["user_id"], tariff]
    invoice = db.execute(insert, ["periodic", *args, None]).fetchone()[0]
    db.execute(
        "INSERT INTO invoice_line (invoice_id, position, kind, amount_minor)"
        " VALUES (%s, 1, 'subscription', 1000)",
        [invoice],
    )
    db.execute(
        "UPDATE invoice SET status = 'issued', number = %s, issue_date = '2026-11-06',"
        " due_date = '2026-11-21' WHERE id = %s",
        [f"CM-2026-{n:06d}", invoice],
    )
    regularisation = db.execute(insert, ["regularisation", *args, invoice]).fetchone()[0]
    hold = db.execute(
        "INSERT INTO billing_hold (period_id, dwelling_id, meter_id, reason)"
        " VALUES (%s, %s, %s, 'tamper') RETURNING id",
        [period, ids["dwelling_id"], ids["meter_id"]],
    ).fetchone()[0]
    return {"invoice_id": invoice, "regularisation_id": regularisation, "hold_id": hold}


@pytest.fixture
async def world(db, make_account) -> World:
    zone = db.execute(
        "INSERT INTO zone (country_code, code, name) VALUES ('CM', 'DLA', 'Douala') RETURNING id"
    ).fetchone()[0]
    accounts = {role: await make_account(role) for role in ROLES}
    other_customer = await make_account("customer")
    ids: dict[str, dict[str, int]] = {}
    for side, customer in (("own", accounts["customer"]), ("other", other_customer)):
        building = db.execute(
            "INSERT INTO building (zone_id, name) VALUES (%s, %s) RETURNING id", [zone, side]
        ).fetchone()[0]
        dwelling = db.execute(
            "INSERT INTO dwelling (building_id, reference, dwelling_type)"
            " VALUES (%s, 'A1', 'apartment') RETURNING id",
            [building],
        ).fetchone()[0]
        meter = db.execute(
            "INSERT INTO meter (serial, kind, dwelling_id, installed_at)"
            " VALUES (%s, 'iot', %s, '2026-01-01Z') RETURNING id",
            [f"WB-{side}", dwelling],
        ).fetchone()[0]
        occupant = db.execute(
            "INSERT INTO dwelling_occupant (user_id, dwelling_id, relation, start_date)"
            " VALUES (%s, %s, 'tenant', '2020-01-01') RETURNING id",
            [customer.id, dwelling],
        ).fetchone()[0]
        incident = db.execute(
            "INSERT INTO incident (meter_id, kind, severity, started_at, last_seen_at)"
            " VALUES (%s, 'leak', 'warning', now() - interval '2 days', now()) RETURNING id",
            [meter],
        ).fetchone()[0]
        # Four weeks of daily volumes: enough history for a forecast.
        db.execute(
            "INSERT INTO meter_daily (meter_id, day, volume_l, start_index_l, end_index_l,"
            " reading_count) SELECT %s, d::date, 400, 0, 0, 24"
            " FROM generate_series(current_date - 28, current_date - 1, interval '1 day') d",
            [meter],
        )
        # A declared absence a month ahead (the absences routes).
        absence = db.execute(
            "INSERT INTO dwelling_absence (dwelling_id, from_date, to_date, source, declared_by)"
            " VALUES (%s, current_date + 30, current_date + 40, 'portal', %s) RETURNING id",
            [dwelling, customer.id],
        ).fetchone()[0]
        ids[side] = {
            "absence_id": absence,
            "incident_id": incident,
            "building_id": building,
            "dwelling_id": dwelling,
            "meter_id": meter,
            "user_id": customer.id,
            "occupant_id": occupant,
        }
    own = ids["own"]
    db.execute(
        "INSERT INTO building_manager (user_id, building_id) VALUES (%s, %s)",
        [accounts["manager"].id, own["building_id"]],
    )
    db.execute(
        "INSERT INTO technician_assignment (technician_id, building_id) VALUES (%s, %s)",
        [accounts["technician"].id, own["building_id"]],
    )
    tariff = db.execute(
        "INSERT INTO tariff (country_code, currency, effective_from, vat_pct, service_fee_minor,"
        " penalty_pct, penalty_fixed_minor) VALUES ('CM', 'XAF', '2026-01-01', 19.25, 500, 5, 0)"
        " RETURNING id"
    ).fetchone()[0]
    db.execute(
        "INSERT INTO tariff_block (tariff_id, position, upper_m3, price_per_m3)"
        " VALUES (%s, 1, 10, 365), (%s, 2, NULL, 550)",
        [tariff, tariff],
    )
    db.execute(
        "INSERT INTO tariff_subscription (tariff_id, dwelling_type, monthly_minor)"
        " SELECT %s, unnest(enum_range(NULL::dwelling_type)), 1000",
        [tariff],
    )
    period = db.execute(
        "INSERT INTO billing_period (label, start_date, end_date)"
        " VALUES ('2026-10', '2026-10-01', '2026-10-31') RETURNING id"
    ).fetchone()[0]
    for n, reachable in enumerate(ids.values(), start=1):
        reachable["zone_id"] = zone
        reachable["tariff_id"] = tariff
        reachable.update(_billing(db, reachable, n=n, period=period, tariff=tariff))
        # A proposed late penalty on it (the payments routes).
        reachable["penalty_id"] = db.execute(
            "INSERT INTO late_penalty (invoice_id, overdue_minor, amount_minor, currency, status)"
            " VALUES (%s, 1000, 50, 'XAF', 'proposed') RETURNING id",
            [reachable["invoice_id"]],
        ).fetchone()[0]
        # A cash payment on its account (a receipt).
        reachable["payment_id"] = db.execute(
            "INSERT INTO payment (dwelling_id, method, status, amount_minor, currency, reference,"
            " received_at) VALUES (%s, 'cash', 'succeeded', 100, 'XAF', %s, now()) RETURNING id",
            [reachable["dwelling_id"], f"ACCESS-{n}"],
        ).fetchone()[0]
        # A queued job (the jobs routes): jobs belong to no one, so only admins see them.
        reachable["job_id"] = db.execute(
            "INSERT INTO procrastinate_jobs (queue_name, task_name) VALUES ('default', 'scan')"
            " RETURNING id"
        ).fetchone()[0]
    users = {role: account.id for role, account in accounts.items()}
    return World(ids=ids, accounts=accounts, users=users)
