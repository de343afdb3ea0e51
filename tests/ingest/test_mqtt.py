"""The MQTT transports: the native subscriber's wire format (packets it writes, PUBLISH parsing
across reads), and both transports against the broker (redelivery of what was not acked, paused
reads)."""

from __future__ import annotations

import asyncio

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from core.broker_auth import TEST_ACCOUNT
from ingest.mqtt import MqttError, _Protocol
from ingest.mqtt_packets import ConnectOptions, Publish, connect_packet, puback_packets
from tests.broker import login as login_as
from tests.ingest.conftest import TRANSPORTS


def publish_packet(topic: str, payload: bytes, packet_id: int, properties: bytes = b"") -> bytes:
    """A QoS 1 PUBLISH as a broker sends it (built by hand, independently of the parser)."""
    raw = topic.encode()
    body = len(raw).to_bytes(2, "big") + raw + packet_id.to_bytes(2, "big")
    body += bytes([len(properties)]) + properties + payload
    length = len(body)
    encoded = bytearray()
    while True:
        byte, length = length & 0x7F, length >> 7
        encoded.append(byte | 0x80 if length else byte)
        if not length:
            break
    return b"\x32" + bytes(encoded) + body


async def parse(chunks: list[bytes]) -> tuple[list[Publish], _Protocol]:
    received: list[Publish] = []
    protocol = _Protocol(received.extend)
    for chunk in chunks:
        protocol.data_received(chunk)
    return received, protocol


class TestParsing:
    async def test_publishes_split_at_every_byte_come_out_whole_and_in_order(self):
        messages = [
            ("wb/1/meters/A-1/up", b'{"index_l": 1}', 1),
            # 300 bytes: a two-byte remaining length; and a property (message expiry).
            ("wb/2/meters/B-2/up", b"x" * 300, 65535),
            ("wb/3/meters/C-3/up", b"", 7),
        ]
        stream = b"".join(
            publish_packet(topic, payload, pid, b"\x02\x00\x00\x00\x3c" if pid == 65535 else b"")
            for topic, payload, pid in messages
        )
        want = [(topic.encode(), payload, pid) for topic, payload, pid in messages]
        for cut in range(1, len(stream)):
            got, protocol = await parse([stream[:cut], stream[cut:]])
            assert got == want, cut
            assert protocol.buffer == b""
        got, _ = await parse([stream[i : i + 1] for i in range(len(stream))])
        assert got == want

    async def test_a_qos2_delivery_or_a_broker_disconnect_fails_the_connection(self):
        qos2 = b"\x34" + publish_packet("wb/1/meters/A-1/up", b"{}", 1)[1:]
        for stream in [qos2, b"\xe0\x01\x8e"]:
            _, protocol = await parse([stream])
            with pytest.raises(MqttError):
                protocol.closed.result()


class TestPackets:
    def test_connect_resumes_the_session_with_an_expiry_and_receive_maximum(self):
        options = ConnectOptions("h", 1, "ingest-0-15", session_expiry_s=3600, receive_maximum=99)
        packet = connect_packet(options)
        # Variable header: "MQTT", version 5, flags, keepalive, properties.
        header = packet[2:]
        assert header[:7] == b"\x00\x04MQTT\x05"
        assert header[7] & 0x02 == 0  # clean start off
        properties = Properties(PacketTypes.CONNECT)
        properties.unpack(header[10:])
        assert properties.json() == {"SessionExpiryInterval": 3600, "ReceiveMaximum": 99}

    def test_pubacks_for_a_batch_are_one_packet_each_back_to_back(self):
        assert puback_packets([1, 258]) == b"\x40\x02\x00\x01\x40\x02\x01\x02"


@pytest.mark.services
class TestAgainstTheBroker:
    @pytest.mark.parametrize(("name", "version"), [("native", 5), ("aiomqtt", 5), ("aiomqtt", 4)])
    async def test_unacked_messages_come_again_after_a_reconnect_acked_ones_do_not(
        self, local_broker, name, version
    ):
        transport = TRANSPORTS[name]
        login = local_broker.settings(TEST_ACCOUNT)
        assert login.password is not None
        options = ConnectOptions(
            "127.0.0.1",
            local_broker.port,
            f"mqtt-test-session-{name}-{version}",
            username=TEST_ACCOUNT,
            password=login.password.get_secret_value(),
            protocol_version=version,
        )
        received: list[Publish] = []
        async with transport(options, received.extend) as subscriber:
            await subscriber.subscribe(["t/+"])
        publisher = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        login_as(publisher, local_broker)
        publisher.connect("127.0.0.1", local_broker.port)
        publisher.loop_start()
        infos = [publisher.publish(f"t/{n}", str(n).encode(), qos=1) for n in range(4)]
        for info in infos:
            info.wait_for_publish(10)
        publisher.loop_stop()
        publisher.disconnect()

        async def session(ack: list[bytes]) -> tuple[bool, list[bytes]]:
            received.clear()
            async with transport(options, received.extend) as subscriber:
                await subscriber.subscribe(["t/+"])
                for _ in range(100):
                    if len(received) >= 4:
                        break
                    await asyncio.sleep(0.05)
                subscriber.ack([pid for topic, _, pid in received if topic in ack])
                await asyncio.sleep(0.3)
            return subscriber.session_present, sorted(payload for _, payload, _ in received)

        assert await session([b"t/0", b"t/1"]) == (True, [b"0", b"1", b"2", b"3"])
        assert await session([]) == (True, [b"2", b"3"])


@pytest.mark.services
class TestPausedReading:
    async def test_nothing_is_delivered_while_paused_and_all_after(self, local_broker, transport):
        login = local_broker.settings(TEST_ACCOUNT)
        assert login.password is not None
        options = ConnectOptions(
            "127.0.0.1",
            local_broker.port,
            "mqtt-test-paused",
            username=TEST_ACCOUNT,
            password=login.password.get_secret_value(),
            session_expiry_s=0,
        )
        received: list[Publish] = []
        publisher = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        login_as(publisher, local_broker)
        publisher.connect("127.0.0.1", local_broker.port)
        publisher.loop_start()
        try:
            async with transport(options, received.extend) as subscriber:
                await subscriber.subscribe(["paused/+"])
                subscriber.pause_reading()
                infos = [publisher.publish(f"paused/{n}", b"x", qos=1) for n in range(50)]
                for info in infos:
                    await asyncio.to_thread(info.wait_for_publish, 10)
                await asyncio.sleep(0.3)
                assert received == []
                subscriber.resume_reading()
                for _ in range(100):
                    if len(received) >= 50:
                        break
                    await asyncio.sleep(0.02)
                assert len(received) == 50
                subscriber.ack([pid for _, _, pid in received])
        finally:
            publisher.loop_stop()
            publisher.disconnect()
