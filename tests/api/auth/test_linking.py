"""Who may link whom to a dwelling, and what a link opens (issue 14, hole 2).

The tables here are the ones of docs/security.md, cell for cell: change both together.
"""

from dataclasses import dataclass

import pytest

pytestmark = pytest.mark.services

TARGETS = (
    "new customer",  # no dwelling yet
    "own customer",  # lives in another dwelling of the manager's building
    "former other customer",  # left a dwelling of another building
    "other customer",  # lives in another building
    "manager",
    "technician",
    "admin",
)

# actor -> dwelling -> status per target, in the order of TARGETS.
LINK = {
    "admin": {
        "own": (201, 201, 201, 201, 201, 201, 201),
        "other": (201, 201, 201, 201, 201, 201, 201),
    },
    "manager": {
        "own": (201, 201, 201, 404, 404, 404, 404),
        "other": (404, 404, 404, 404, 404, 404, 404),
    },
    "technician": {"own": (403,) * 7, "other": (403,) * 7},
    "customer": {"own": (403,) * 7, "other": (403,) * 7},
}

PROFILE_TARGETS = (
    "own customer",
    "former own customer",  # left a dwelling of the manager's building
    "other customer",
    "linked manager",  # staff linked to a dwelling of the building (by an admin, or before)
    "linked technician",
    "linked admin",
)
# actor -> operation -> status per target, in the order of PROFILE_TARGETS.
PROFILE = {
    "manager": {
        "GET": (200, 200, 404, 404, 404, 404),
        "PATCH names": (200, 200, 404, 404, 404, 404),
        "PATCH role": (403, 403, 404, 404, 404, 404),
    },
    "technician": dict.fromkeys(("GET", "PATCH names", "PATCH role"), (403,) * 6),
    "customer": dict.fromkeys(("GET", "PATCH names", "PATCH role"), (403,) * 6),
}


@dataclass
class Place:
    dwellings: dict[str, int]
    accounts: dict[str, object]
    targets: dict[str, int]


def _occupy(db, user_id: int, dwelling_id: int, end_date: str | None = None) -> None:
    db.execute(
        "INSERT INTO dwelling_occupant (user_id, dwelling_id, relation, start_date, end_date)"
        " VALUES (%s, %s, 'tenant', '2020-01-01', %s)",
        [user_id, dwelling_id, end_date],
    )


@pytest.fixture
async def place(db, make_account) -> Place:
    zone = db.execute(
        "INSERT INTO zone (country_code, code, name) VALUES ('CM', 'DLA', 'Douala') RETURNING id"
    ).fetchone()[0]
    buildings = {
        side: db.execute(
            "INSERT INTO building (zone_id, name) VALUES (%s, %s) RETURNING id", [zone, side]
        ).fetchone()[0]
        for side in ("own", "other")
    }
    dwellings = {
        place: db.execute(
            "INSERT INTO dwelling (building_id, reference, dwelling_type)"
            " VALUES (%s, %s, 'apartment') RETURNING id",
            [buildings[place.split()[0]], place],
        ).fetchone()[0]
        for place in ("own", "own neighbour", "other")
    }
    accounts = {role: await make_account(role) for role in LINK}
    db.execute(
        "INSERT INTO building_manager (user_id, building_id) VALUES (%s, %s)",
        [accounts["manager"].id, buildings["own"]],
    )
    _occupy(db, accounts["customer"].id, dwellings["own neighbour"])
    targets = {
        name: (await make_account(name.split()[-1])).id for name in {*TARGETS, *PROFILE_TARGETS}
    }
    _occupy(db, targets["own customer"], dwellings["own neighbour"])
    _occupy(db, targets["former own customer"], dwellings["own neighbour"], "2021-01-01")
    _occupy(db, targets["former other customer"], dwellings["other"], "2021-01-01")
    _occupy(db, targets["other customer"], dwellings["other"])
    for staff in ("linked manager", "linked technician", "linked admin"):
        _occupy(db, targets[staff], dwellings["own neighbour"])
    return Place(dwellings=dwellings, accounts=accounts, targets=targets)


@pytest.mark.parametrize("dwelling", ["own", "other"])
@pytest.mark.parametrize("actor", list(LINK))
async def test_who_may_link_whom(api, place, actor, dwelling):
    headers = place.accounts[actor].headers
    got = []
    for target in TARGETS:
        answer = await api.post(
            f"/dwellings/{place.dwellings[dwelling]}/occupants",
            json={
                "user_id": place.targets[target],
                "relation": "tenant",
                "start_date": "2026-12-01",
            },
            headers=headers,
        )
        got.append(answer.status_code)
    assert dict(zip(TARGETS, got, strict=True)) == dict(
        zip(TARGETS, LINK[actor][dwelling], strict=True)
    )


async def test_a_refused_link_answers_as_for_a_missing_user(api, place):
    manager = place.accounts["manager"].headers
    url = f"/dwellings/{place.dwellings['own']}/occupants"
    body = {"relation": "tenant", "start_date": "2026-12-01"}
    refused = await api.post(url, json={**body, "user_id": place.targets["admin"]}, headers=manager)
    missing = await api.post(url, json={**body, "user_id": 2_000_000_000}, headers=manager)
    assert refused.status_code == missing.status_code == 404
    assert refused.json()["detail"].replace(str(place.targets["admin"]), "N") == missing.json()[
        "detail"
    ].replace("2000000000", "N")


@pytest.mark.parametrize("operation", ["GET", "PATCH names", "PATCH role"])
@pytest.mark.parametrize("actor", list(PROFILE))
async def test_what_a_link_opens_of_a_profile(api, place, actor, operation):
    headers = place.accounts[actor].headers
    got = []
    for target in PROFILE_TARGETS:
        url = f"/users/{place.targets[target]}"
        if operation == "GET":
            answer = await api.get(url, headers=headers)
        else:
            change = {"first_name": "Renamed"} if operation == "PATCH names" else {"role": "admin"}
            answer = await api.patch(url, json=change, headers=headers)
        got.append(answer.status_code)
    assert dict(zip(PROFILE_TARGETS, got, strict=True)) == dict(
        zip(PROFILE_TARGETS, PROFILE[actor][operation], strict=True)
    )


async def test_a_manager_lists_only_customers(api, place):
    answer = await api.get("/users", headers=place.accounts["manager"].headers)
    listed = {user["id"] for user in answer.json()}
    wanted = {place.targets["own customer"], place.targets["former own customer"]}
    assert listed == wanted | {place.accounts["customer"].id}
