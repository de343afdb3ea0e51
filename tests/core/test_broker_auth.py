"""The broker's auth store against a real Mosquitto: hashes it accepts, ACLs it enforces."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from core.broker_auth import (
    TEST_ACCOUNT,
    acl_text,
    broker_answers,
    default_accounts,
    hash_password,
    read_password_file,
    set_passwords,
)
from core.local_mosquitto import LocalMosquitto

NOT_AUTHORIZED = 0x87
BAD_CREDENTIALS = 0x86


class Client:
    """A paho MQTT v5 client that records its CONNACK and each PUBACK's reason code."""

    def __init__(self, broker: LocalMosquitto, username: str | None, password: str | None):
        self.connack: int | None = None
        self.pubacks: dict[int, int] = {}
        self.messages: list[tuple[str, bytes]] = []
        self._connected = threading.Event()
        self.subscribed = threading.Event()
        self._acked = threading.Condition()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = lambda _c, _u, m: self.messages.append((m.topic, bytes(m.payload)))
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        assert self._connected.wait(10), "no CONNACK"

    def _on_connect(self, _c, _u, _f, reason, _p) -> None:
        self.connack = reason.value
        self._connected.set()

    def _on_publish(self, _c, _u, mid, reason, _p) -> None:
        with self._acked:
            self.pubacks[mid] = reason.value
            self._acked.notify_all()

    def publish(self, topic: str, payload: bytes = b"{}") -> int:
        """Publish QoS 1 and return the PUBACK's reason code."""
        mid = self.client.publish(topic, payload, qos=1).mid
        with self._acked:
            assert self._acked.wait_for(lambda: mid in self.pubacks, 10), "no PUBACK"
            return self.pubacks[mid]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self.client.on_connect = self.client.on_publish = self.client.on_message = None
        self.client.on_subscribe = None


@pytest.fixture
def watcher(own_broker):
    """A test-account subscriber on every uplink of the test's own broker."""
    password = own_broker.settings(TEST_ACCOUNT).password
    client = Client(own_broker, TEST_ACCOUNT, password.get_secret_value())
    yield client
    client.close()


def meter_login(broker: LocalMosquitto, serial: str, password: str) -> None:
    set_passwords(broker.password_file, {serial: password})
    broker.reload()


class TestHashPassword:
    def test_is_what_mosquitto_passwd_computes(self, tmp_path: Path):
        passwd = tmp_path / "passwd"
        subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwd), "m1", "s3cret"], check=True)
        theirs = read_password_file(passwd)["m1"]
        salt = base64.b64decode(theirs.split("$")[3])
        assert hash_password("s3cret", salt=salt) == theirs

    def test_salts_each_hash(self):
        assert hash_password("same") != hash_password("same")
        digest = hashlib.pbkdf2_hmac("sha512", b"x", b"y", 1)
        assert len(digest) == 64


class TestSetPasswords:
    def test_replaces_one_user_and_keeps_the_others(self, tmp_path: Path):
        passwd = tmp_path / "passwd"
        set_passwords(passwd, {"a-1": "one", "b-1": "two"})
        before = read_password_file(passwd)
        set_passwords(passwd, {"a-1": "three"})
        after = read_password_file(passwd)
        assert after.keys() == {"a-1", "b-1"}
        assert after["b-1"] == before["b-1"]
        assert after["a-1"] != before["a-1"]

    def test_concurrent_writers_keep_every_login(self, tmp_path: Path):
        passwd = tmp_path / "passwd"

        def write(worker: int) -> None:
            for n in range(25):
                set_passwords(passwd, {f"w{worker}-{n}": "pw"})

        threads = [threading.Thread(target=write, args=(worker,)) for worker in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(read_password_file(passwd)) == 6 * 25


class TestAclText:
    def test_service_accounts_by_name_and_meters_on_their_own_topic(self):
        text = acl_text("wb", default_accounts())
        assert "user ingest@waterbill\ntopic read wb/#" in text
        assert "user api@waterbill\ntopic read wb/#" in text
        assert text.rstrip().endswith("pattern write wb/+/meters/%u/up")


@pytest.mark.services
class TestAgainstMosquitto:
    def test_an_anonymous_client_is_refused_at_connect(self, local_broker):
        client = Client(local_broker, None, None)
        try:
            assert client.connack in {NOT_AUTHORIZED, BAD_CREDENTIALS}
        finally:
            client.close()

    def test_a_python_hashed_password_logs_in(self, own_broker):
        meter_login(own_broker, "AUTH-OK-1", "right password")
        client = Client(own_broker, "AUTH-OK-1", "right password")
        try:
            assert client.connack == 0
        finally:
            client.close()

    def test_meter_a_cannot_publish_as_meter_b(self, own_broker, watcher):
        watcher.client.subscribe("wb/+/meters/+/up", qos=1)
        assert watcher.subscribed.wait(10)
        meter_login(own_broker, "ACL-A-1", "password of a")
        meter = Client(own_broker, "ACL-A-1", "password of a")
        try:
            assert meter.publish("wb/0/meters/ACL-B-1/up") == NOT_AUTHORIZED
            assert meter.publish("wb/0/meters/ACL-A-1/up") == 0
        finally:
            meter.close()
        deadline = threading.Event()
        for _ in range(100):
            if watcher.messages:
                break
            deadline.wait(0.05)
        deadline.wait(0.3)
        assert [topic for topic, _ in watcher.messages] == ["wb/0/meters/ACL-A-1/up"]

    def test_a_rotated_password_stops_the_old_one_after_the_reload(self, own_broker):
        meter_login(own_broker, "ROT-1", "old password")
        old = Client(own_broker, "ROT-1", "old password")
        old.close()
        assert old.connack == 0
        meter_login(own_broker, "ROT-1", "new password")
        refused = Client(own_broker, "ROT-1", "old password")
        refused.close()
        accepted = Client(own_broker, "ROT-1", "new password")
        accepted.close()
        assert (refused.connack, accepted.connack) in {(NOT_AUTHORIZED, 0), (BAD_CREDENTIALS, 0)}

    def test_service_accounts_may_read_but_not_publish_uplinks(self, local_broker):
        ingest = local_broker.settings("ingest@waterbill")
        assert ingest.password is not None
        client = Client(local_broker, "ingest@waterbill", ingest.password.get_secret_value())
        try:
            assert client.publish("wb/0/meters/ANY-1/up") == NOT_AUTHORIZED
        finally:
            client.close()


@pytest.mark.services
class TestReloadRightAfterStart:
    def test_a_sighup_as_soon_as_start_returns_does_not_stop_the_broker(self, tmp_path):
        with LocalMosquitto(root=tmp_path / "broker") as broker:
            broker.reload()
            broker.reload()
            assert broker_answers(broker.port)
