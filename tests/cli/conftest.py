import asyncio
import contextlib
import warnings

import pytest

from core.broker_auth import TEST_ACCOUNT
from core.config import get_settings
from tests.simulators.conftest import collector  # noqa: F401  (shared MQTT subscriber)


@pytest.fixture
def cli_env(settings, local_broker, monkeypatch):
    """The CLI reads its settings from the environment: point it at this test's services."""
    monkeypatch.setenv("WATERBILL_DATABASE_URL", settings.dsn)
    mqtt = local_broker.settings(TEST_ACCOUNT)
    monkeypatch.setenv("WATERBILL_MQTT__PORT", str(mqtt.port))
    monkeypatch.setenv("WATERBILL_MQTT__USERNAME", TEST_ACCOUNT)
    monkeypatch.setenv("WATERBILL_MQTT__PASSWORD", mqtt.password.get_secret_value())
    # Commands call asyncio.run(), which leaves no event loop set when done: close the one
    # pytest-asyncio keeps there, or it is garbage-collected unclosed (a ResourceWarning).
    with warnings.catch_warnings(), contextlib.suppress(RuntimeError):
        warnings.simplefilter("ignore", DeprecationWarning)
        asyncio.get_event_loop_policy().get_event_loop().close()
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()
