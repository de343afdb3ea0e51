import pytest
from sqlalchemy import text

from core.broker_auth import API_ACCOUNT, read_password_file
from registry.service import register_meters
from tests.registry.conftest import registration

pytestmark = pytest.mark.services


@pytest.fixture
def settings(settings, own_broker):
    """The API issues logins into a broker of the test's own, never the shared one."""
    return settings.model_copy(update={"mqtt": own_broker.settings(API_ACCOUNT)})


async def meter_id(session, serial: str) -> int:
    await register_meters(session, meters=[registration(serial)])
    await session.commit()
    found = await session.scalar(text("SELECT id FROM meter WHERE serial = :s"), {"s": serial})
    return int(found)


class TestIssueCredentials:
    async def test_issues_then_rotates_a_meter_login(self, admin_client, session, own_broker):
        id_ = await meter_id(session, "API-CRED-1")
        first = await admin_client.post(f"/meters/{id_}/credentials")
        hashed = read_password_file(own_broker.password_file)["API-CRED-1"]
        second = await admin_client.post(f"/meters/{id_}/credentials")
        assert first.status_code == second.status_code == 200, first.text
        body = first.json()
        assert body["username"] == body["serial"] == "API-CRED-1"
        assert body["topic"].endswith("/meters/API-CRED-1/up")
        assert second.json()["password"] != body["password"]
        assert read_password_file(own_broker.password_file)["API-CRED-1"] != hashed

    async def test_an_unknown_meter_is_404(self, admin_client):
        response = await admin_client.post("/meters/999999/credentials")
        assert response.status_code == 404
        assert response.json()["error"] == "MeterNotFound"

    async def test_needs_an_administrator(self, client, session):
        id_ = await meter_id(session, "API-CRED-2")
        response = await client.post(f"/meters/{id_}/credentials")
        assert response.status_code == 401
