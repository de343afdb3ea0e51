"""Schemathesis over every operation of our OpenAPI schema, as an admin and as an anonymous
caller, over real HTTP to uvicorn on the test's own (throwaway) database.

No answer may be a 5xx, and every answer must match the schema (documented status, content type,
body, headers). Anonymous, every protected operation must answer 401; the public ones (sign-in,
health, the payment webhook) are fuzzed for real. Nothing is excluded: destructive operations
(erase, void, close, discard) only touch this test's database, and the admin the fuzzer runs as is
put back before each example (it may demote, deactivate or erase itself, or end its session).

Budget (2-core machine; derandomized, so a failure replays): 91 operations, 20 examples each as
admin (about 58 s), 20 per public operation anonymous (about 6 s), 5 per protected operation
anonymous, all 401s (about 16 s): about 80 s of test time, plus the suite's service start.
"""

import threading
import time
from collections.abc import Iterator

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core.config import Settings
from core.local_services import free_port

pytestmark = [pytest.mark.services, pytest.mark.slow]

# FastAPI writes OpenAPI 3.1, which schemathesis 3.x reads behind this switch.
schemathesis.experimental.OPEN_API_3_1.enable()

CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
)
FUZZ = hypothesis_settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    from api.app import create_app

    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_config=None, access_log=False
    )
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uvicorn_server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    uvicorn_server.should_exit = True
    thread.join(timeout=20)


@pytest.fixture
def api_schema(server: str):
    return schemathesis.from_uri(f"{server}/openapi.json", base_url=server)


def _protected(ctx) -> bool:
    return bool(ctx.operation.definition.raw.get("security"))


def _without_token(headers: dict[str, str] | None) -> dict[str, str]:
    """Schemathesis fills the bearer scheme with random bytes, which the HTTP server itself
    refuses (400 before the app sees it): an anonymous caller sends no token at all."""
    return {k: v for k, v in (headers or {}).items() if k.lower() != "authorization"}


schema = schemathesis.from_pytest_fixture("api_schema")


@schema.parametrize()
@hypothesis_settings(FUZZ, max_examples=20)
# One test item walks every operation: ~80 s on an idle machine, over the suite's 300 s under
# the moved clock (libfaketime) on a loaded one.
@pytest.mark.timeout(900)
def test_as_admin(case, world, db):
    """Objects with ids 1 and 2 exist for every kind (the access-matrix world), so small ids
    reach real rows as well as 404s."""
    admin = world.accounts["admin"]
    db.execute(
        "UPDATE app_user SET role = 'admin', is_active = true, erased_at = NULL,"
        " token_version = 0 WHERE id = %s",
        [admin.id],
    )
    case.call_and_validate(headers=admin.headers, checks=CHECKS)


@schema.exclude(_protected).parametrize()
@hypothesis_settings(FUZZ, max_examples=20)
def test_public_operations_anonymous(case):
    case.headers = _without_token(case.headers)
    case.call_and_validate(checks=CHECKS)


@schema.include(_protected).parametrize()
@hypothesis_settings(FUZZ, max_examples=5)
def test_protected_operations_anonymous_answer_401(case):
    case.headers = _without_token(case.headers)
    response = case.call_and_validate(checks=CHECKS)
    assert response.status_code == 401, response.text
