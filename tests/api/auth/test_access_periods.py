"""The access matrix in time: every GET route of the OpenAPI document that takes an object id x
role x own/other object x inside/outside the customer's occupancy.

The world's customer has occupied the "own" dwelling since 2020-01-01. Beside the objects of
``test_access`` (inside that occupancy), the "own" dwelling gets objects from June 2019, before
it: an invoice of that month, an anomaly, a reading and a day of volume. Expected
answers come from ``test_access.TABLE`` (role x own/other) and one rule: outside the occupancy a
customer gets 404 for a dated object (an invoice, an anomaly) and none of the dated data inside a
meter's readings or volumes; staff hold a building without dates, so for them outside equals
inside.
"""

from typing import Any

import pytest

from tests.api.auth.conftest import ROLES
from tests.api.auth.test_access import TABLE, outcome

pytestmark = pytest.mark.services

# Path parameters naming a dated object: which id of the "outside" objects replaces them.
DATED = {"invoice_id", "incident_id", "payment_id"}
# Data routes whose rows are dated: a probe finds the June 2019 row in the answer.
DATA_PROBES = {
    "/meters/{meter_id}/readings": lambda body: any(
        r["time"].startswith("2019-06-15") for r in body["readings"]
    ),
    "/meters/{meter_id}/volumes": lambda body: any(
        b["label"].startswith("2019-06-15") for b in body["buckets"]
    ),
}
DATA_QUERIES = {
    "/meters/{meter_id}/volumes": {"granularity": "day", "start": "2019-06-01", "end": "2019-07-01"}
}


# List routes of dated objects: which "outside" object must not be listed to the customer.
LISTS = {"/invoices": "invoice_id", "/anomalies": "incident_id", "/payments": "payment_id"}


def id_routes(app) -> list[str]:
    """Every GET path of the OpenAPI document with an object id in it."""
    return sorted(
        path
        for path, operations in app.openapi()["paths"].items()
        if "get" in operations and "{" in path
    )


@pytest.fixture
def outside(db, world) -> dict[str, int]:
    """Objects of the own dwelling dated June 2019, before the customer moved in."""
    own = world.ids["own"]
    period = db.execute(
        "INSERT INTO billing_period (label, start_date, end_date)"
        " VALUES ('2019-06', '2019-06-01', '2019-06-30') RETURNING id"
    ).fetchone()[0]
    invoice = db.execute(
        "INSERT INTO invoice (kind, period_id, dwelling_id, customer_id, country_code, currency,"
        " tariff_id, dwelling_type, period_days, volume_l, net_minor, vat_minor, total_minor)"
        " VALUES ('periodic', %s, %s, NULL, 'CM', 'XAF', %s, 'apartment', 30, 1000, 1000, 0,"
        " 1000) RETURNING id",
        [period, own["dwelling_id"], own["tariff_id"]],
    ).fetchone()[0]
    db.execute(
        "INSERT INTO invoice_line (invoice_id, position, kind, amount_minor)"
        " VALUES (%s, 1, 'subscription', 1000)",
        [invoice],
    )
    db.execute(
        "UPDATE invoice SET status = 'issued', number = 'CM-2019-000001',"
        " issue_date = '2019-07-05', due_date = '2019-07-20' WHERE id = %s",
        [invoice],
    )
    incident = db.execute(
        "INSERT INTO incident (meter_id, kind, severity, status, started_at, last_seen_at,"
        " ended_at) VALUES (%s, 'burst', 'warning', 'resolved', '2019-06-10Z', '2019-06-11Z',"
        " '2019-06-11Z') RETURNING id",
        [own["meter_id"]],
    ).fetchone()[0]
    db.execute(
        "INSERT INTO reading (meter_id, time, source, index_l)"
        " VALUES (%s, '2019-06-15T12:00Z', 'iot', 100)",
        [own["meter_id"]],
    )
    db.execute(
        "INSERT INTO meter_daily (meter_id, day, volume_l, start_index_l, end_index_l,"
        " reading_count) VALUES (%s, '2019-06-15', 321, 0, 0, 24)",
        [own["meter_id"]],
    )
    payment = db.execute(
        "INSERT INTO payment (dwelling_id, method, status, amount_minor, currency, reference,"
        " received_at) VALUES (%s, 'cash', 'succeeded', 1000, 'XAF', 'WB2019', '2019-06-20Z')"
        " RETURNING id",
        [own["dwelling_id"]],
    ).fetchone()[0]
    return {"invoice_id": invoice, "incident_id": incident, "payment_id": payment}


def expected_outside(route: str, role: str) -> str:
    """The answer outside the occupancy, from the answer inside it."""
    inside = TABLE[route].expect[role].split("/")[0]
    path = route.split(" ")[1]
    dated = any(f"{{{name}}}" in path for name in DATED)
    return "404" if role == "customer" and dated and inside == "ok" else inside


class TestTheWalkCoversEveryIdRoute:
    def test_every_get_route_with_an_id_has_a_row_in_the_table(self, app):
        assert {f"GET {path}" for path in id_routes(app)} <= set(TABLE)


async def test_each_role_inside_and_outside_the_occupancy(api, app, world, outside):
    leaks = []
    for path in id_routes(app):
        route = f"GET {path}"
        case = TABLE[route]
        for role in ROLES:
            account = world.accounts[role]
            inside_ids = dict(world.ids["own"])
            if case.user_role:
                inside_ids["user_id"] = world.users[case.user_role]
            outside_ids = {**inside_ids, **outside}
            params: dict[str, Any] = case.query(inside_ids) if case.query else {}
            params |= DATA_QUERIES.get(path, {})
            for side, ids, expected in (
                ("inside", inside_ids, TABLE[route].expect[role].split("/")[0]),
                ("outside", outside_ids, expected_outside(route, role)),
            ):
                answer = await api.get(path.format(**ids), params=params, headers=account.headers)
                got = outcome(answer.status_code)
                if got != expected:
                    leaks.append(f"{role} {side} {route}: {got}, expected {expected}")
                probe = DATA_PROBES.get(path)
                if side == "outside" and probe and got == "ok":
                    sees_past = probe(answer.json())
                    if sees_past != (role != "customer"):
                        leaks.append(f"{role} {route}: sees June 2019 data: {sees_past}")
    assert leaks == []


async def test_lists_leave_out_what_is_outside_the_occupancy(api, app, world, outside):
    paths = app.openapi()["paths"]
    assert set(LISTS) <= {path for path, operations in paths.items() if "get" in operations}
    seen = {}
    for path, key in LISTS.items():
        for role in ROLES:
            if TABLE[f"GET {path}"].expect[role] != "ok":
                continue
            answer = await api.get(path, headers=world.accounts[role].headers)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            items = body["items"] if isinstance(body, dict) else body
            seen[(path, role)] = outside[key] in {item["id"] for item in items}
    assert seen == {
        (path, role): role != "customer"
        for path in LISTS
        for role in ("customer", "manager", "admin")
        if TABLE[f"GET {path}"].expect[role] == "ok"
    } | {("/anomalies", "technician"): True}
