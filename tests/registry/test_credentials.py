from datetime import UTC, datetime

import pytest

from core.broker_auth import read_password_file
from core.config import MqttSettings
from registry.credentials import issue_credentials_by_serial, write_credentials
from registry.exceptions import BrokerAuthUnavailable, MeterAlreadyRemoved, MeterNotFound
from registry.service import get_meter_by_serial, register_meters
from tests.registry.conftest import registration


class TestWriteCredentials:
    def test_without_a_password_file_nothing_can_be_issued(self):
        with pytest.raises(BrokerAuthUnavailable, match="password_file"):
            write_credentials(MqttSettings(), serials=["WB-1"])

    def test_a_stale_pid_file_says_the_broker_was_not_reloaded(self, tmp_path):
        pid_file = tmp_path / "broker.pid"
        pid_file.write_text("not a pid\n")
        mqtt = MqttSettings(password_file=str(tmp_path / "passwd"), broker_pid_file=str(pid_file))
        with pytest.raises(BrokerAuthUnavailable, match="SIGHUP"):
            write_credentials(mqtt, serials=["WB-1"])
        assert "WB-1" in read_password_file(tmp_path / "passwd")

    def test_random_passwords_on_each_serial_own_topic(self, tmp_path):
        mqtt = MqttSettings(password_file=str(tmp_path / "passwd"))
        first, second = write_credentials(mqtt, serials=["WB-1", "WB-2"])
        assert (first.username, second.username) == ("WB-1", "WB-2")
        assert first.password != second.password
        assert len(first.password) >= 32
        assert first.topic.startswith("wb/")
        assert first.topic.endswith("/meters/WB-1/up")
        assert read_password_file(tmp_path / "passwd").keys() == {"WB-1", "WB-2"}


class TestIssueCredentialsBySerial:
    async def test_registered_meters_get_logins(self, session, tmp_path):
        await register_meters(session, meters=[registration("WB-3001")])
        mqtt = MqttSettings(password_file=str(tmp_path / "passwd"))
        (login,) = await issue_credentials_by_serial(session, serials=["WB-3001"], mqtt=mqtt)
        assert login.serial == "WB-3001"
        assert "WB-3001" in read_password_file(tmp_path / "passwd")

    async def test_an_unknown_serial_gets_nothing(self, session, tmp_path):
        mqtt = MqttSettings(password_file=str(tmp_path / "passwd"))
        with pytest.raises(MeterNotFound):
            await issue_credentials_by_serial(session, serials=["WB-NONE"], mqtt=mqtt)
        assert not (tmp_path / "passwd").exists()

    async def test_a_removed_meter_gets_nothing(self, session, tmp_path):
        await register_meters(session, meters=[registration("WB-3002")])
        meter = await get_meter_by_serial(session, serial="WB-3002")
        meter.removed_at = datetime(2026, 2, 1, tzinfo=UTC)
        mqtt = MqttSettings(password_file=str(tmp_path / "passwd"))
        with pytest.raises(MeterAlreadyRemoved):
            await issue_credentials_by_serial(session, serials=["WB-3002"], mqtt=mqtt)
