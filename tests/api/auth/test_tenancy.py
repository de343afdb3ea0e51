"""Issue 14, hole 3: what a customer sees of a dwelling is what it held while they lived there.

One dwelling in Douala (UTC+1) changes hands on 1 December 2026: the previous tenant's
occupancy ends on 30 November, the new tenant's starts on 1 December. Each month has its
invoice (billed to that month's tenant), a payment, an anomaly, readings and daily volumes.
"""

from dataclasses import dataclass

import pytest

from tests.api.auth.conftest import Account

pytestmark = pytest.mark.services

MONTHS = ("2026-11", "2026-12")


@dataclass
class Handover:
    previous: Account
    new: Account
    manager: Account
    dwelling_id: int
    meter_id: int
    invoices: dict[str, int]  # month -> invoice id
    incidents: dict[str, int]
    payments: dict[str, int]


def _invoice(db, *, period: int, dwelling: int, customer: int, tariff: int, number: str) -> int:
    invoice = db.execute(
        "INSERT INTO invoice (kind, period_id, dwelling_id, customer_id, country_code, currency,"
        " tariff_id, dwelling_type, period_days, volume_l, net_minor, vat_minor, total_minor)"
        " VALUES ('periodic', %s, %s, %s, 'CM', 'XAF', %s, 'apartment', 30, 1000, 1000, 0, 1000)"
        " RETURNING id",
        [period, dwelling, customer, tariff],
    ).fetchone()[0]
    db.execute(
        "INSERT INTO invoice_line (invoice_id, position, kind, amount_minor)"
        " VALUES (%s, 1, 'subscription', 1000)",
        [invoice],
    )
    db.execute(
        "UPDATE invoice SET status = 'issued', number = %s, issue_date = '2027-01-05',"
        " due_date = '2027-01-20' WHERE id = %s",
        [number, invoice],
    )
    return int(invoice)


@pytest.fixture
async def handover(db, make_account) -> Handover:
    previous = await make_account("customer")
    new = await make_account("customer")
    manager = await make_account("manager")
    zone = db.execute(
        "INSERT INTO zone (country_code, code, name) VALUES ('CM', 'DLA-T', 'Douala') RETURNING id"
    ).fetchone()[0]
    building = db.execute(
        "INSERT INTO building (zone_id, name) VALUES (%s, 'Akwa') RETURNING id", [zone]
    ).fetchone()[0]
    db.execute(
        "INSERT INTO building_manager (user_id, building_id) VALUES (%s, %s)",
        [manager.id, building],
    )
    dwelling = db.execute(
        "INSERT INTO dwelling (building_id, reference, dwelling_type)"
        " VALUES (%s, 'T1', 'apartment') RETURNING id",
        [building],
    ).fetchone()[0]
    meter = db.execute(
        "INSERT INTO meter (serial, kind, dwelling_id, installed_at)"
        " VALUES ('WB-TENANCY', 'iot', %s, '2026-01-01Z') RETURNING id",
        [dwelling],
    ).fetchone()[0]
    db.execute(
        "INSERT INTO dwelling_occupant (user_id, dwelling_id, relation, start_date, end_date)"
        " VALUES (%s, %s, 'tenant', '2026-01-01', '2026-11-30'),"
        " (%s, %s, 'tenant', '2026-12-01', NULL)",
        [previous.id, dwelling, new.id, dwelling],
    )
    tariff = db.execute(
        "INSERT INTO tariff (country_code, currency, effective_from, vat_pct, service_fee_minor,"
        " penalty_pct, penalty_fixed_minor) VALUES ('CM', 'XAF', '2026-01-01', 0, 0, 0, 0)"
        " RETURNING id"
    ).fetchone()[0]
    invoices, incidents, payments = {}, {}, {}
    for n, (month, customer) in enumerate(zip(MONTHS, (previous, new), strict=True)):
        last_day = "30" if month.endswith("11") else "31"
        period = db.execute(
            "INSERT INTO billing_period (label, start_date, end_date) VALUES (%s, %s, %s)"
            " RETURNING id",
            [month, f"{month}-01", f"{month}-{last_day}"],
        ).fetchone()[0]
        invoices[month] = _invoice(
            db,
            period=period,
            dwelling=dwelling,
            customer=customer.id,
            tariff=tariff,
            number=f"CM-2026-T{n:05d}",
        )
        incidents[month] = db.execute(
            "INSERT INTO incident (meter_id, kind, severity, status, started_at, last_seen_at,"
            " ended_at) VALUES (%s, 'leak', 'warning', 'resolved', %s, %s, %s) RETURNING id",
            [meter, f"{month}-10T02:00Z", f"{month}-12T02:00Z", f"{month}-12T03:00Z"],
        ).fetchone()[0]
        payments[month] = db.execute(
            "INSERT INTO payment (dwelling_id, method, status, amount_minor, currency, reference,"
            " received_at) VALUES (%s, 'cash', 'succeeded', 1000, 'XAF', %s, %s) RETURNING id",
            [dwelling, f"WBT{n}", f"{month}-20T10:00Z"],
        ).fetchone()[0]
        db.execute(
            "INSERT INTO reading (meter_id, time, source, index_l) VALUES (%s, %s, 'iot', %s)",
            [meter, f"{month}-15T12:00Z", 1000 * (n + 1)],
        )
        db.execute(
            "INSERT INTO meter_daily (meter_id, day, volume_l, start_index_l, end_index_l,"
            " reading_count) VALUES (%s, %s, %s, 0, 0, 24)",
            [meter, f"{month}-15", 100 * (n + 1)],
        )
    # The boundary itself, in local time: 30 Nov 23:30 and 1 Dec 00:30 in Douala (UTC+1).
    db.execute(
        "INSERT INTO reading (meter_id, time, source, index_l)"
        " VALUES (%s, '2026-11-30T22:30Z', 'iot', 1500), (%s, '2026-11-30T23:30Z', 'iot', 1600)",
        [meter, meter],
    )
    return Handover(previous, new, manager, dwelling, meter, invoices, incidents, payments)


async def _ids(api, url: str, account: Account, key: str = "id") -> set[int]:
    answer = await api.get(url, headers=account.headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    items = body["items"] if isinstance(body, dict) else body
    return {item[key] for item in items}


async def _readings_refused(api, h: Handover, account: Account) -> None:
    answer = await api.get(f"/meters/{h.meter_id}/readings", headers=account.headers)
    assert answer.status_code == 403, answer.text


async def _daily(api, h: Handover, account: Account) -> dict[str, int]:
    answer = await api.get(
        f"/meters/{h.meter_id}/volumes",
        params={"granularity": "day", "start": "2026-11-01", "end": "2027-01-01"},
        headers=account.headers,
    )
    assert answer.status_code == 200, answer.text
    return {b["label"][:10]: b["volume_l"] for b in answer.json()["buckets"]}


class TestTheNewTenant:
    async def test_lists_only_the_invoice_of_their_period(self, api, handover):
        h = handover
        assert await _ids(api, "/invoices", h.new) == {h.invoices["2026-12"]}

    async def test_cannot_fetch_the_previous_invoice_nor_its_pdf(self, api, handover):
        h = handover
        november = h.invoices["2026-11"]
        for url in (f"/invoices/{november}", f"/invoices/{november}/pdf"):
            answer = await api.get(url, headers=h.new.headers)
            assert answer.status_code == 404, url

    async def test_sees_consumption_from_their_first_local_day_and_no_raw_readings(
        self, api, handover
    ):
        h = handover
        await _readings_refused(api, h, h.new)
        assert await _daily(api, h, h.new) == {"2026-12-15": 200}

    async def test_sees_only_the_anomalies_and_payments_of_their_period(self, api, handover):
        h = handover
        assert await _ids(api, "/anomalies", h.new) == {h.incidents["2026-12"]}
        answer = await api.get(f"/anomalies/{h.incidents['2026-11']}", headers=h.new.headers)
        assert answer.status_code == 404
        assert await _ids(api, "/payments", h.new) == {h.payments["2026-12"]}


class TestThePreviousTenant:
    async def test_still_sees_their_invoice_and_not_the_next_one(self, api, handover):
        h = handover
        assert await _ids(api, "/invoices", h.previous) == {h.invoices["2026-11"]}
        pdf = await api.get(f"/invoices/{h.invoices['2026-11']}/pdf", headers=h.previous.headers)
        assert pdf.status_code == 200
        december = await api.get(f"/invoices/{h.invoices['2026-12']}", headers=h.previous.headers)
        assert december.status_code == 404

    async def test_sees_consumption_up_to_their_last_local_day_and_no_raw_readings(
        self, api, handover
    ):
        h = handover
        await _readings_refused(api, h, h.previous)
        assert await _daily(api, h, h.previous) == {"2026-11-15": 100}

    async def test_sees_only_the_anomalies_and_payments_of_their_period(self, api, handover):
        h = handover
        assert await _ids(api, "/anomalies", h.previous) == {h.incidents["2026-11"]}
        assert await _ids(api, "/payments", h.previous) == {h.payments["2026-11"]}

    async def test_gets_no_forecast_of_a_meter_they_no_longer_hold(self, api, handover):
        h = handover
        answer = await api.get(f"/meters/{h.meter_id}/forecast", headers=h.previous.headers)
        assert answer.status_code == 404


class TestTheManager:
    async def test_sees_both_periods_since_the_building_never_changed_hands(self, api, handover):
        h = handover
        assert await _ids(api, "/invoices", h.manager) == set(h.invoices.values())
        assert await _ids(api, "/anomalies", h.manager) == set(h.incidents.values())
        assert await _daily(api, h, h.manager) == {"2026-11-15": 100, "2026-12-15": 200}
