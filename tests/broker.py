"""The suite's Mosquitto logins: the service accounts plus a test identity that may publish and
read any topic (tests publish as meters, and to topics no meter may use)."""

from __future__ import annotations

from typing import Any

import paho.mqtt.client as mqtt

from core.broker_auth import (
    TEST_ACCOUNT,
    Access,
    ServiceAccount,
    default_accounts,
    new_password,
)
from core.local_mosquitto import LocalMosquitto


def suite_broker(**kwargs: Any) -> LocalMosquitto:
    """A ``LocalMosquitto`` (not started) with the service accounts and ``TEST_ACCOUNT``."""
    tests = ServiceAccount(TEST_ACCOUNT, new_password(), Access.READWRITE)
    return LocalMosquitto(accounts=[*default_accounts(), tests], **kwargs)


def login(client: mqtt.Client, broker: LocalMosquitto, username: str = TEST_ACCOUNT) -> None:
    """Give a paho client one of the broker's service-account logins."""
    settings = broker.settings(username)
    assert settings.password is not None
    client.username_pw_set(username, settings.password.get_secret_value())
