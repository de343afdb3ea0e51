import pytest

from api.app import create_app
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


class TestMetrics:
    async def test_prometheus_text_is_served(self, client):
        response = await client.get("/metrics/")
        assert response.status_code == 200
        assert "python_info" in response.text
