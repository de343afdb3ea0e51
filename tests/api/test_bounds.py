"""Bounded inputs (issue 14, hole 7): an integer a client sends is checked against its bounds in
the schema, so one beyond PostgreSQL's bigint is a 422, never a 500."""

from typing import Any

import pytest

from api.app import create_app
from core.config import Settings

BEYOND_BIGINT = 2**63


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    spec = create_app(Settings()).openapi()
    return [
        (method, path, operation)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    ]


def _integer_schemas(parameter: dict[str, Any]) -> list[dict[str, Any]]:
    schema = parameter.get("schema", {})
    return [s for s in [schema, *schema.get("anyOf", [])] if s.get("type") == "integer"]


def test_every_integer_parameter_has_both_bounds():
    unbounded = [
        f"{method.upper()} {path} {parameter['name']}"
        for method, path, operation in _operations()
        for parameter in operation.get("parameters", [])
        for schema in _integer_schemas(parameter)
        if "minimum" not in schema or "maximum" not in schema
    ]
    assert unbounded == []


LIST_ROUTES = sorted(
    path
    for method, path, operation in _operations()
    if method == "get"
    and "{" not in path
    and any(p["name"] == "offset" for p in operation.get("parameters", []))
)


def test_the_probed_routes_are_among_the_list_routes():
    assert {"/invoices", "/faults", "/quarantine", "/ingest/status/meters"} <= set(LIST_ROUTES)


@pytest.mark.services
@pytest.mark.parametrize("path", LIST_ROUTES)
async def test_an_offset_beyond_bigint_is_a_422(admin_client, path):
    answer = await admin_client.get(path, params={"offset": BEYOND_BIGINT})
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["query", "offset"]


@pytest.mark.services
@pytest.mark.parametrize("path", LIST_ROUTES)
async def test_the_largest_offset_allowed_answers(admin_client, path):
    answer = await admin_client.get(path, params={"offset": 10_000_000})
    assert answer.status_code == 200, answer.text


def _unbounded_integers(
    schema: dict[str, Any], components: dict[str, Any], where: str
) -> list[str]:
    """Integers in a request body schema lacking a lower or an upper bound."""
    if "$ref" in schema:
        return _unbounded_integers(components[schema["$ref"].split("/")[-1]], components, where)
    found = []
    if schema.get("type") == "integer" and (
        "minimum" not in schema or not {"maximum", "exclusiveMaximum"} & schema.keys()
    ):
        found.append(where)
    for branch in schema.get("anyOf", []) + schema.get("oneOf", []) + schema.get("allOf", []):
        found += _unbounded_integers(branch, components, where)
    for name, sub in schema.get("properties", {}).items():
        found += _unbounded_integers(sub, components, f"{where}.{name}")
    if "items" in schema:
        found += _unbounded_integers(schema["items"], components, f"{where}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        found += _unbounded_integers(schema["additionalProperties"], components, f"{where}{{}}")
    return found


def test_every_integer_in_a_request_body_has_both_bounds():
    components = create_app(Settings()).openapi()["components"]["schemas"]
    unbounded = [
        where
        for method, path, operation in _operations()
        for kind, content in operation.get("requestBody", {}).get("content", {}).items()
        for where in _unbounded_integers(
            content["schema"], components, f"{method.upper()} {path} {kind}"
        )
    ]
    assert unbounded == []


@pytest.mark.services
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/quarantine/discard", {"ids": [BEYOND_BIGINT]}, ["body", "ids", 0]),
        ("/quarantine/reprocess", {"ids": [BEYOND_BIGINT]}, ["body", "ids", 0]),
        ("/billing/close", {"period": "2026-10", "zone_ids": [2**31]}, ["body", "zone_ids", 0]),
        ("/billing/issue", {"period": "2026-10", "zone_ids": [2**31]}, ["body", "zone_ids", 0]),
    ],
)
async def test_an_id_in_a_body_beyond_its_column_is_a_422(admin_client, path, body, field):
    answer = await admin_client.post(path, json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == field


@pytest.mark.services
@pytest.mark.parametrize(
    ("method", "path", "request_kwargs"),
    [
        ("GET", "/meters/1/volumes", {"params": {"end": "0001-01-01T00:00:00Z"}}),
        ("GET", "/reports/revenue", {"params": {"start": "2026-01-01", "end": "9999-12-31"}}),
        (
            "POST",
            "/readings/manual",
            {
                "data": {"meter_id": "1", "time": "0001-01-01T00:00:00+05:00", "index_l": "5"},
                "headers": {"Idempotency-Key": "probe-0001"},
            },
        ),
        (
            "POST",
            "/meters",
            {
                "json": {
                    "serial": "WB-9",
                    "kind": "iot",
                    "installed_at": "0001-01-01T00:05:00+05:00",
                }
            },
        ),
    ],
)
async def test_a_date_beyond_the_years_allowed_is_a_422(admin_client, method, path, request_kwargs):
    # Each was a 500: date arithmetic overflowed, or PostgreSQL refused year 1 BC.
    answer = await admin_client.request(method, path, **request_kwargs)
    assert answer.status_code == 422, answer.text
    assert "the year must be from 1900 to 2999" in answer.text
