"""The MQTT v5 packets the ingest subscriber (``ingest.mqtt``) writes, and the acknowledgements it
reads back: encoding and decoding only, no I/O.

Ref: https://docs.oasis-open.org/mqtt/mqtt/v5.0/mqtt-v5.0.html
"""

from __future__ import annotations

import ssl
import struct
from collections.abc import Sequence
from dataclasses import dataclass

# Fixed header first bytes (packet type << 4 | flags).
CONNECT = 0x10
CONNACK = 0x20
PUBLISH = 0x30
PUBACK = 0x40
SUBSCRIBE = 0x82
SUBACK = 0x90
PINGREQ = b"\xc0\x00"
PINGRESP = 0xD0
DISCONNECT = 0xE0
DISCONNECT_NORMAL = b"\xe0\x00"

# MQTT v5 property identifiers we send.
_SESSION_EXPIRY_INTERVAL = 0x11
_RECEIVE_MAXIMUM = 0x21
_MAXIMUM_PACKET_SIZE = 0x27

_U16 = struct.Struct("!H")
_PUBACK_PACKET = struct.Struct("!BBH")

# (topic, payload, packet id: 0 for QoS 0)
Publish = tuple[bytes, bytes, int]

# CONNACK reason codes retrying will not cure: 0x84 protocol version, 0x85 client id, 0x86 user
# name or password, 0x87 not authorized, 0x8A banned, 0x8C bad authentication method.
REFUSED_FOR_GOOD = {0x84: "unsupported protocol version", 0x85: "client id not valid"} | {
    0x86: "bad user name or password",
    0x87: "not authorized",
    0x8A: "banned",
    0x8C: "bad authentication method",
}


@dataclass(frozen=True)
class ConnectOptions:
    host: str
    port: int
    client_id: str
    username: str | None = None
    password: str | None = None
    keepalive_s: int = 30
    session_expiry_s: int = 7 * 24 * 3600
    receive_maximum: int = 20_000
    maximum_packet_size: int | None = None
    timeout_s: float = 10.0
    # 5, or 4 (MQTT 3.1.1): the aiomqtt transport speaks both, the native one 5 only.
    protocol_version: int = 5
    # TLS (``core.config_mqtt.client_ssl_context``); None: plain TCP.
    ssl: ssl.SSLContext | None = None


@dataclass(frozen=True)
class Connack:
    session_present: bool
    reason: int

    @classmethod
    def parse(cls, body: bytes) -> Connack:
        """Acknowledge flags (bit 0: Session Present), then the reason code; short: refused."""
        if len(body) < 2:
            return cls(session_present=False, reason=0x80)
        return cls(session_present=bool(body[0] & 1), reason=body[1])


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | 0x80 if value else byte)
        if not value:
            return bytes(out)


def _string(value: str | bytes) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    return _U16.pack(len(raw)) + raw


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + _varint(len(body)) + body


def connect_packet(options: ConnectOptions) -> bytes:
    flags = 0  # clean start off: resume the session the broker keeps for our client id
    payload = _string(options.client_id)
    if options.username is not None:
        flags |= 0x80
    if options.password is not None:
        flags |= 0x40
    if options.username is not None:
        payload += _string(options.username)
    if options.password is not None:
        payload += _string(options.password)
    properties = (
        bytes([_SESSION_EXPIRY_INTERVAL])
        + struct.pack("!I", options.session_expiry_s)
        + bytes([_RECEIVE_MAXIMUM])
        + _U16.pack(options.receive_maximum)
    )
    if options.maximum_packet_size is not None:
        properties += bytes([_MAXIMUM_PACKET_SIZE]) + struct.pack("!I", options.maximum_packet_size)
    variable = (
        _string("MQTT") + bytes([5, flags]) + _U16.pack(options.keepalive_s)
        + _varint(len(properties)) + properties
    )  # fmt: skip
    return _packet(CONNECT, variable + payload)


def subscribe_packet(packet_id: int, topics: Sequence[str], qos: int = 1) -> bytes:
    body = _U16.pack(packet_id) + b"\x00"  # no properties
    for topic in topics:
        body += _string(topic) + bytes([qos])
    return _packet(SUBSCRIBE, body)


def suback_refused(body: bytes, topics: int) -> bytes | None:
    """The SUBACK's reason codes when any subscription was refused (or the count is off)."""
    # Packet id (2), properties (length + body), then one reason code per topic.
    properties = body[2]
    codes = body[3 + properties :] if properties < 0x80 else b""
    if len(codes) != topics or any(code >= 0x80 for code in codes):
        return codes
    return None


def puback_packets(packet_ids: Sequence[int]) -> bytes:
    """PUBACKs (Success, so the v5 reason code is left out) for these ids, back to back."""
    pack = _PUBACK_PACKET.pack
    return b"".join([pack(PUBACK, 2, packet_id) for packet_id in packet_ids])
