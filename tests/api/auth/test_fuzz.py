"""Schemathesis against our OpenAPI schema, over real HTTP to uvicorn on the real database.

Every auth and management operation is fuzzed as an admin (the widest reach): no answer may be a
5xx, and every answer must match the schema (documented status, content type, body, headers).
"""

import threading
import time
from collections.abc import Iterator

import httpx
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
from tests.api.auth.conftest import PASSWORD

pytestmark = [pytest.mark.services, pytest.mark.slow]

# FastAPI writes OpenAPI 3.1, which schemathesis 3.x reads behind this switch.
schemathesis.experimental.OPEN_API_3_1.enable()

FUZZED = r"^/(auth|users|zones|buildings|dwellings|meters|payments|penalties|reports)"
CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
)


@pytest.fixture
def settings(settings: Settings, tmp_path) -> Settings:
    """Meter logins go to a password file of this test's own (no broker to reload)."""
    mqtt = settings.mqtt.model_copy(update={"password_file": str(tmp_path / "passwd")})
    return settings.model_copy(update={"mqtt": mqtt})


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
def admin_headers(server: str, db) -> dict[str, str]:
    from accounts.passwords import hash_password

    db.execute(
        "INSERT INTO app_user (phone, first_name, last_name, language, role, is_active,"
        " password_hash) VALUES ('+237699000001', 'Fuzz', 'Admin', 'en', 'admin', true, %s)",
        [hash_password(PASSWORD)],
    )
    db.execute(
        "INSERT INTO zone (country_code, code, name) VALUES ('CM', 'DLA', 'Douala');"
        "INSERT INTO building (zone_id, name) VALUES (1, 'B');"
        "INSERT INTO dwelling (building_id, reference, dwelling_type) VALUES (1, 'A', 'house');"
        "INSERT INTO meter (serial, kind, dwelling_id, installed_at)"
        " VALUES ('WB-1', 'iot', 1, '2026-01-01Z')"
    )
    answer = httpx.post(
        f"{server}/auth/login", json={"phone": "+237699000001", "password": PASSWORD}
    )
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@pytest.fixture
def api_schema(server: str):
    return schemathesis.from_uri(f"{server}/openapi.json", base_url=server)


schema = schemathesis.from_pytest_fixture("api_schema").include(path_regex=FUZZED)


@schema.parametrize()
@hypothesis_settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_server_error_and_no_schema_violation(case, admin_headers, db):
    # The fuzzer may demote, deactivate or erase the admin it runs as: put the account back.
    db.execute(
        "UPDATE app_user SET role = 'admin', is_active = true, erased_at = NULL,"
        " phone = '+237699000001' WHERE id = 1"
    )
    case.call_and_validate(headers=admin_headers, checks=CHECKS)
