"""The shipped Mosquitto configs (docker/), run by this machine's Mosquitto with their container
paths pointed at a throwaway directory: anonymous clients and wrong passwords refused, the
service account and a meter let in, and the TLS variant serving TLS only."""

from __future__ import annotations

import os
import pwd
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import broker_auth
from core.broker_auth import INGEST_ACCOUNT
from core.config import MqttSettings
from core.config_mqtt import client_ssl_context
from core.local_mosquitto import MOSQUITTO_BIN
from core.local_services import free_port
from ingest.mqtt import ConnectRefused, MqttError, MqttSubscriber
from ingest.mqtt_packets import ConnectOptions
from tests.tls import make_pki

pytestmark = pytest.mark.services

ROOT = Path(__file__).resolve().parents[1]
PASSWORDS = {INGEST_ACCOUNT: "ingest password", "WB-CONF-1": "meter password"}
# An MQTT 3.1.1 CONNECT without user name (as broker_auth's probe).
ANONYMOUS_CONNECT = bytes.fromhex("100c00044d5154540402003c0000")


def start(
    config: Path, root: Path, port: int, certs: Path | None = None
) -> subprocess.Popen[bytes]:
    """Mosquitto on the shipped ``config`` with its /mosquitto paths and port moved here."""
    text = config.read_text()
    listener = "listener 8883" if "listener 8883" in text else "listener 1883"
    text = text.replace(listener, f"listener {port} 127.0.0.1")
    text = text.replace("/mosquitto/auth/passwd", str(root / "passwd"))
    text = text.replace("/mosquitto/config/acl", str(ROOT / "docker" / "mosquitto.acl"))
    text = text.replace("/mosquitto/data/", f"{root}/")
    if certs is not None:
        text = text.replace("/mosquitto/certs/", f"{certs}/")
    text += f"user {pwd.getpwuid(os.geteuid()).pw_name}\n"
    (root / "mosquitto.conf").write_text(text)
    broker_auth.set_passwords(root / "passwd", PASSWORDS)
    log = (root / "mosquitto.log").open("ab")
    process = subprocess.Popen(
        [str(MOSQUITTO_BIN), "-c", str(root / "mosquitto.conf")], stdout=log, stderr=log
    )
    log.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert process.poll() is None, (root / "mosquitto.log").read_text()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the shipped config's broker did not listen")


@pytest.fixture
def shipped(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    process = start(ROOT / "docker" / "mosquitto.conf", tmp_path, port)
    yield port
    process.terminate()
    process.wait(timeout=15)


async def connect(
    port: int, username: str, ssl_settings: MqttSettings | None = None, password: str = ""
) -> None:
    options = ConnectOptions(
        "127.0.0.1",
        port,
        f"conf-{username}",
        username=username,
        password=password or PASSWORDS[username],
        session_expiry_s=0,
        ssl=client_ssl_context(ssl_settings) if ssl_settings else None,
        timeout_s=5,
    )
    async with MqttSubscriber(options, lambda _: None):
        pass


class TestShippedConfig:
    def test_anonymous_clients_are_refused(self, shipped):
        with socket.create_connection(("127.0.0.1", shipped), timeout=5) as sock:
            sock.sendall(ANONYMOUS_CONNECT)
            connack = sock.recv(4)
        assert connack[:1] == b"\x20"
        assert connack[3] == 5  # MQTT 3.1.1: not authorized

    async def test_the_service_account_and_a_meter_log_in(self, shipped):
        await connect(shipped, INGEST_ACCOUNT)
        await connect(shipped, "WB-CONF-1")

    async def test_a_wrong_password_is_refused_for_good(self, shipped):
        with pytest.raises(ConnectRefused):
            await connect(shipped, "WB-CONF-1", password="not the meter's")

    def test_limits_and_persistence_are_set(self):
        text = (ROOT / "docker" / "mosquitto.conf").read_text().splitlines()
        assert "message_size_limit 1048576" in text
        assert "autosave_interval 1" in text
        assert "allow_anonymous false" in text


class TestShippedTlsConfig:
    async def test_meters_and_services_connect_over_tls_only(self, tmp_path):
        pki = make_pki(tmp_path / "certs")
        port = free_port()
        process = start(ROOT / "docker" / "mosquitto-tls.conf", tmp_path, port, tmp_path / "certs")
        try:
            settings = MqttSettings(tls=True, tls_ca_file=str(pki.ca))
            await connect(port, INGEST_ACCOUNT, settings)
            await connect(port, "WB-CONF-1", settings)
            with pytest.raises(MqttError, match="TLS listener"):
                await connect(port, INGEST_ACCOUNT)
        finally:
            process.terminate()
            process.wait(timeout=15)
