from typing import Any

import pytest

from api.app import create_app
from core.broker_auth import API_ACCOUNT
from core.config import MqttSettings
from core.local_services import free_port

pytestmark = pytest.mark.services


class TestLive:
    async def test_answers_ok(self, client):
        response = await client.get("/health/live")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


class TestReady:
    async def test_ready_when_database_and_broker_answer(self, client):
        response = await client.get("/health/ready")
        assert response.status_code == 200
        assert response.json() == {
            "status": "ok",
            "checks": {"database": "ok", "broker": "ok"},
        }

    async def test_unavailable_when_the_broker_is_down(self, settings):
        import httpx

        down = settings.model_copy(update={"mqtt": MqttSettings(port=free_port())})
        app = create_app(down)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
        ):
            response = await http.get("/health/ready")
        assert response.status_code == 503
        body = response.json()
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["broker"].startswith("error:")


async def ready(settings) -> tuple[int, dict[str, Any]]:
    import httpx

    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        response = await http.get("/health/ready")
    return response.status_code, response.json()


class TestReadyOverTls:
    async def test_the_probe_reaches_a_tls_broker_with_the_mqtt_tls_settings(
        self, settings, tls_broker
    ):
        mqtt = tls_broker.settings(API_ACCOUNT, tls_broker.server_auth)
        status, body = await ready(settings.model_copy(update={"mqtt": mqtt}))
        assert (status, body["checks"]["broker"]) == (200, "ok")

    async def test_a_broker_certificate_from_another_ca_is_not_ready(self, settings, tls_broker):
        wrong = str(tls_broker.pki.wrong_ca)
        mqtt = tls_broker.settings(API_ACCOUNT, tls_broker.server_auth, tls_ca_file=wrong)
        status, body = await ready(settings.model_copy(update={"mqtt": mqtt}))
        assert status == 503
        assert "CERTIFICATE_VERIFY_FAILED" in body["checks"]["broker"]


class TestMetrics:
    async def test_prometheus_text_is_served(self, client):
        response = await client.get("/metrics/")
        assert response.status_code == 200
        assert "python_info" in response.text
