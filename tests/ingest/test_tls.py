"""The MQTT edge over TLS, against a Mosquitto with TLS listeners and a throwaway CA (openssl):
readings flow end to end, and every TLS misconfiguration is refused loudly, never retried forever.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import orjson
import pytest

from core.broker_auth import INGEST_ACCOUNT, TEST_ACCOUNT
from core.config_mqtt import MqttSettings, client_ssl_context
from ingest.consumer import EXIT_CONFIG, EXIT_REFUSED
from ingest.mqtt import MqttError, TlsRefused, Transport
from ingest.mqtt_packets import ConnectOptions
from simulators.publisher import Publisher
from tests.ingest.conftest import register, wait_for_rows
from tests.tls import TlsBroker
from wire.codec import encode_reading
from wire.topics import uplink_topic

pytestmark = pytest.mark.services

T = datetime(2026, 11, 20, tzinfo=UTC)


def tls_env(settings: MqttSettings) -> dict[str, str]:
    """The worker's environment for these settings (its login stays the ingest account's)."""
    env = {
        "WATERBILL_MQTT__PORT": str(settings.port),
        "WATERBILL_MQTT__TLS": "true",
        "WATERBILL_MQTT__TLS_CHECK_HOSTNAME": str(settings.tls_check_hostname).lower(),
    }
    for name in ("tls_ca_file", "tls_cert_file", "tls_key_file"):
        value = getattr(settings, name)
        if value is not None:
            env[f"WATERBILL_MQTT__{name.upper()}"] = value
    return env


def publish(settings: MqttSettings, readings: dict[str, int]) -> None:
    """The simulator's publisher, over TLS, as the test account; waits for every PUBACK."""
    publisher = Publisher(settings, client_id="tls-test-publisher")
    publisher.connect()
    try:
        for serial, index in readings.items():
            topic = uplink_topic(settings.topic_prefix, settings.shards, serial)
            assert publisher.publish(topic, orjson.dumps(encode_reading(T, index)))
        assert publisher.drain(10)
    finally:
        publisher.close()


async def connect(settings: MqttSettings, transport: Transport) -> None:
    """One connection of an ingest transport with these settings."""
    assert settings.password is not None
    options = ConnectOptions(
        settings.host,
        settings.port,
        "tls-test-client",
        username=settings.username,
        password=settings.password.get_secret_value(),
        session_expiry_s=0,
        ssl=client_ssl_context(settings),
        timeout_s=5,
    )
    async with transport(options, lambda _: None):
        pass


class TestReadingsOverTls:
    def test_simulator_to_database_over_tls(self, db, database_url, tls_broker, start_worker):
        register(db, ["TLS-1", "TLS-2"])
        ingest = tls_broker.settings(INGEST_ACCOUNT, tls_broker.server_auth)
        worker = start_worker(database_url, tls_broker.broker, **tls_env(ingest))
        worker.wait_subscribed()
        publisher = tls_broker.settings(TEST_ACCOUNT, tls_broker.server_auth)
        publish(publisher, {"TLS-1": 10, "TLS-2": 20})
        assert wait_for_rows(db, "SELECT count(*) FROM reading", 2) == 2
        assert worker.stop() == 0
        rows = db.execute(
            "SELECT m.serial, r.index_l FROM reading r JOIN meter m ON m.id = r.meter_id"
            " ORDER BY m.serial"
        )
        assert rows.fetchall() == [("TLS-1", 10), ("TLS-2", 20)]

    def test_a_listener_requiring_a_client_certificate_takes_the_workers(
        self, db, database_url, tls_broker, start_worker
    ):
        register(db, ["TLSCERT-1"])
        pki = tls_broker.pki
        ingest = tls_broker.settings(
            INGEST_ACCOUNT,
            tls_broker.client_cert,
            tls_cert_file=str(pki.client_cert),
            tls_key_file=str(pki.client_key),
        )
        worker = start_worker(database_url, tls_broker.broker, **tls_env(ingest))
        worker.wait_subscribed()
        publish(tls_broker.settings(TEST_ACCOUNT, tls_broker.server_auth), {"TLSCERT-1": 7})
        assert wait_for_rows(db, "SELECT count(*) FROM reading", 1) == 1
        assert worker.stop() == 0


class TestTlsRefusals:
    def test_a_wrong_ca_makes_the_worker_exit_non_zero_soon_with_the_reason(
        self, database_url, tls_broker, start_worker
    ):
        wrong = tls_broker.settings(
            INGEST_ACCOUNT, tls_broker.server_auth, tls_ca_file=str(tls_broker.pki.wrong_ca)
        )
        started = time.monotonic()
        worker = start_worker(database_url, tls_broker.broker, **tls_env(wrong))
        assert worker.process.wait(timeout=30) == EXIT_REFUSED
        assert time.monotonic() - started < 15
        log = worker.log.read_text()
        assert "TLS handshake with 127.0.0.1" in log
        assert "CERTIFICATE_VERIFY_FAILED" in log
        assert "3 times in a row" in log
        assert "Check WATERBILL_MQTT__TLS_CA_FILE" in log

    async def test_a_certificate_for_another_host_name_is_refused(
        self, transport, tls_broker: TlsBroker
    ):
        settings = tls_broker.settings(TEST_ACCOUNT, tls_broker.other_host)
        with pytest.raises(TlsRefused, match="mismatch"):
            await connect(settings, transport)

    async def test_the_hostname_check_can_be_turned_off_the_ca_check_cannot(
        self, transport, tls_broker: TlsBroker
    ):
        await connect(
            tls_broker.settings(TEST_ACCOUNT, tls_broker.other_host, tls_check_hostname=False),
            transport,
        )
        wrong_ca = tls_broker.settings(
            TEST_ACCOUNT,
            tls_broker.other_host,
            tls_check_hostname=False,
            tls_ca_file=str(tls_broker.pki.wrong_ca),
        )
        with pytest.raises(TlsRefused, match="CERTIFICATE_VERIFY_FAILED"):
            await connect(wrong_ca, transport)

    async def test_a_listener_requiring_a_client_certificate_refuses_a_client_without(
        self, transport, tls_broker: TlsBroker
    ):
        with pytest.raises(TlsRefused, match="CERTIFICATE_REQUIRED"):
            await connect(tls_broker.settings(TEST_ACCOUNT, tls_broker.client_cert), transport)

    async def test_tls_against_a_plain_listener_says_so(self, transport, tls_broker: TlsBroker):
        plain = tls_broker.settings(TEST_ACCOUNT, tls_broker.server_auth)
        plain = plain.model_copy(update={"port": tls_broker.broker.port})
        with pytest.raises(MqttError, match="is this port a TLS listener"):
            await connect(plain, transport)

    async def test_plain_mqtt_against_a_tls_listener_says_so(
        self, transport, tls_broker: TlsBroker
    ):
        tls = tls_broker.settings(TEST_ACCOUNT, tls_broker.server_auth)
        plain = tls.model_copy(update={"tls": False, "tls_ca_file": None})
        with pytest.raises(MqttError, match="a TLS listener"):
            await connect(plain, transport)

    def test_an_unreadable_ca_file_stops_the_worker_at_start(
        self, database_url, tls_broker, start_worker, tmp_path
    ):
        settings = tls_broker.settings(
            INGEST_ACCOUNT, tls_broker.server_auth, tls_ca_file=str(tmp_path / "missing.pem")
        )
        worker = start_worker(database_url, tls_broker.broker, **tls_env(settings))
        assert worker.process.wait(timeout=30) == EXIT_CONFIG
        assert "cannot load the MQTT TLS files" in worker.log.read_text()
