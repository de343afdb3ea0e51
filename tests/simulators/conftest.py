import threading
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from core.local_mosquitto import LocalMosquitto
from tests.broker import login


class Collector:
    """A paho subscriber on every uplink topic that keeps what it receives."""

    def __init__(self, broker: LocalMosquitto) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_connect = lambda client, *_: client.subscribe("wb/+/meters/+/up", qos=1)
        login(self.client, broker)
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        assert self._subscribed.wait(10), "subscription not acknowledged"

    def _on_message(self, _client, _userdata, message) -> None:
        with self._lock:
            self.messages.append((message.topic, message.payload))

    def wait_for(self, count: int, timeout: float = 30.0) -> list[tuple[str, bytes]]:
        deadline = threading.Event()
        for _ in range(int(timeout * 20)):
            with self._lock:
                if len(self.messages) >= count:
                    break
            deadline.wait(0.05)
        deadline.wait(0.3)  # anything beyond `count` would show up now
        with self._lock:
            return list(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        # Break the callback cycle so paho's socket pair is closed now, not by a later GC pass.
        self.client.on_message = None
        self.client.on_subscribe = None
        self.client.on_connect = None


@pytest.fixture
def collector(local_broker) -> Iterator[Collector]:
    subscriber = Collector(local_broker)
    yield subscriber
    subscriber.close()
