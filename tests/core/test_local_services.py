import signal
import threading

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from core.broker_auth import TEST_ACCOUNT
from core.local_mosquitto import LocalMosquitto
from core.local_services import ServiceError
from tests.broker import login, suite_broker

pytestmark = pytest.mark.services


class TestLocalPostgres:
    def test_timescaledb_is_preloaded_and_loads_in_a_migrated_database(self, database_url):
        with psycopg.connect(database_url) as conn:
            preload = conn.execute("SHOW shared_preload_libraries").fetchone()
            assert preload is not None
            assert "timescaledb" in preload[0]
            license_row = conn.execute("SHOW timescaledb.license").fetchone()
        assert license_row is not None
        assert license_row[0] in {"apache", "timescale"}

    def test_listens_on_loopback_only(self, local_pg):
        with psycopg.connect(local_pg.url()) as conn:
            row = conn.execute("SHOW listen_addresses").fetchone()
        assert row == ("127.0.0.1",)


def _session_client(broker: LocalMosquitto, client_id: str) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    login(client, broker)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 300
    client.connect("127.0.0.1", broker.port, clean_start=False, properties=props)
    return client


class TestLocalMosquitto:
    def test_offline_session_keeps_more_than_the_default_1000_messages(self, local_broker):
        """Mosquitto's default max_queued_messages (1000) would silently drop the rest."""
        total = 3000
        topic = "test/queue/offline"
        subscribed = threading.Event()
        consumer = _session_client(local_broker, "queue-test-consumer")
        consumer.on_subscribe = lambda *_: subscribed.set()
        consumer.loop_start()
        consumer.subscribe(topic, qos=1)
        assert subscribed.wait(timeout=5)
        consumer.disconnect()
        consumer.loop_stop()

        publisher = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        login(publisher, local_broker)
        publisher.connect("127.0.0.1", local_broker.port)
        publisher.loop_start()
        infos = [publisher.publish(topic, str(i), qos=1) for i in range(total)]
        for info in infos:
            info.wait_for_publish(timeout=10)
        publisher.loop_stop()
        publisher.disconnect()

        received: set[bytes] = set()
        done = threading.Event()

        def on_message(_client, _userdata, message):
            received.add(message.payload)
            if len(received) == total:
                done.set()

        again = _session_client(local_broker, "queue-test-consumer")
        again.on_message = on_message
        again.loop_start()
        done.wait(timeout=20)
        again.loop_stop()
        again.disconnect()
        assert len(received) == total


class TestBrokerHealth:
    def test_a_dead_broker_is_named_with_its_signal_and_log(self, tmp_path):
        broker = suite_broker(root=tmp_path / "broker").start()
        assert broker._process is not None
        broker._process.send_signal(signal.SIGSEGV)
        broker._process.wait(timeout=15)
        report = r"died \(signal SIGSEGV\); its log, .*mosquitto\.log"
        with pytest.raises(ServiceError, match=report):
            broker.check_alive()
        with pytest.raises(ServiceError, match="had died"):
            broker.stop()

    def test_the_shared_broker_names_no_auth_files_and_refuses_a_reload(self, local_broker):
        settings = local_broker.settings(TEST_ACCOUNT)
        assert (settings.password_file, settings.broker_pid_file) == (None, None)
        with pytest.raises(ServiceError, match="never reloaded"):
            local_broker.reload()
