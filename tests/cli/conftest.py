import pytest

from core.config import get_settings


@pytest.fixture
def cli_env(settings, monkeypatch):
    """The CLI reads its settings from the environment: point it at this test's services."""
    monkeypatch.setenv("WATERBILL_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("WATERBILL_MQTT__PORT", str(settings.mqtt.port))
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()


from tests.simulators.conftest import collector  # noqa: E402, F401  (shared MQTT subscriber)
