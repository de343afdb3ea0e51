"""MQTT settings: TLS refused when it would be silently unused and turned into one context; the
protocol version and the ingest transport that speaks it."""

from __future__ import annotations

import ssl

import pytest
from pydantic import ValidationError

from core.config import Settings
from core.config_ingest import IngestSettings
from core.config_mqtt import MqttSettings, TlsConfigError, client_ssl_context
from tests.tls import make_pki


class TestMqttTlsSettings:
    def test_tls_files_with_tls_off_are_refused_by_name(self):
        with pytest.raises(ValidationError, match="WATERBILL_MQTT__TLS_CA_FILE set but"):
            MqttSettings(tls_ca_file="/etc/ca.pem")

    def test_a_key_without_its_certificate_is_refused(self):
        with pytest.raises(ValidationError, match="TLS_KEY_FILE needs"):
            MqttSettings(tls=True, tls_key_file="/etc/client.key")


class TestProtocolAndTransport:
    def test_aiomqtt_and_mqtt_5_by_default(self):
        settings = Settings()
        assert (settings.ingest.mqtt_transport, settings.mqtt.protocol) == ("aiomqtt", "5")

    def test_the_environment_picks_the_native_transport_and_mqtt_3_1_1(self, monkeypatch):
        monkeypatch.setenv("WATERBILL_MQTT__PROTOCOL", "3.1.1")
        assert Settings().mqtt.protocol == "3.1.1"
        monkeypatch.setenv("WATERBILL_MQTT__PROTOCOL", "5")
        monkeypatch.setenv("WATERBILL_INGEST__MQTT_TRANSPORT", "native")
        assert Settings().ingest.mqtt_transport == "native"

    def test_the_native_transport_with_mqtt_3_1_1_is_refused(self):
        with pytest.raises(ValidationError, match="native speaks MQTT 5 only"):
            Settings(
                ingest=IngestSettings(mqtt_transport="native"),
                mqtt=MqttSettings(protocol="3.1.1"),
            )


class TestClientSslContext:
    def test_none_when_tls_is_off(self):
        assert client_ssl_context(MqttSettings()) is None

    def test_verifies_the_chain_and_the_host_name_by_default(self, tmp_path):
        pki = make_pki(tmp_path)
        context = client_ssl_context(
            MqttSettings(
                tls=True,
                tls_ca_file=str(pki.ca),
                tls_cert_file=str(pki.client_cert),
                tls_key_file=str(pki.client_key),
            )
        )
        assert context is not None
        assert context.verify_mode is ssl.CERT_REQUIRED
        assert context.check_hostname

    def test_the_host_name_check_can_be_turned_off_not_the_chain(self, tmp_path):
        pki = make_pki(tmp_path)
        settings = MqttSettings(tls=True, tls_ca_file=str(pki.ca), tls_check_hostname=False)
        context = client_ssl_context(settings)
        assert context is not None
        assert context.verify_mode is ssl.CERT_REQUIRED
        assert not context.check_hostname

    def test_a_missing_file_is_named_in_the_error(self, tmp_path):
        missing = str(tmp_path / "nowhere.pem")
        with pytest.raises(TlsConfigError, match="nowhere.pem"):
            client_ssl_context(MqttSettings(tls=True, tls_ca_file=missing))
