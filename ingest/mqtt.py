"""A minimal asyncio MQTT v5 subscriber: what the ingest worker needs, at its message rate.

paho (under aiomqtt) builds a message object, a properties object, a topic matcher walk and a
callback chain per PUBLISH, and writes one socket packet per PUBACK: most of the worker's CPU at
tens of thousands of messages a second (py-spy, bench/ingest.py). This client does only:

- CONNECT with ``clean_start=False``, a session expiry interval and a Receive Maximum, so the
  broker keeps our session (and its queued readings) while we are away, and a Maximum Packet
  Size, so it never sends us a message larger than we will hold in memory;
- SUBSCRIBE at QoS 1 (checked against the SUBACK);
- PUBLISH decoded straight from the receive buffer into ``(topic, payload, packet id)`` tuples
  handed to a callback in the order received;
- PUBACK only when the caller says so (after its commit), a whole batch in one write;
- PINGREQ keepalive, and a connection that counts as lost when the broker stays silent;
- reading paused and resumed on the caller's word (its memory bound), the broker holding the rest.

Anything unexpected from the broker (a DISCONNECT, a malformed packet, a QoS 2 delivery we never
asked for) closes the connection; the caller reconnects with backoff, and the broker redelivers
whatever was not acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# Fixed header first bytes (packet type << 4 | flags).
_CONNECT = 0x10
_CONNACK = 0x20
_PUBLISH = 0x30
_PUBACK = 0x40
_SUBSCRIBE = 0x82
_SUBACK = 0x90
_PINGREQ = b"\xc0\x00"
_PINGRESP = 0xD0
_DISCONNECT = 0xE0
_DISCONNECT_NORMAL = b"\xe0\x00"

# MQTT v5 property identifiers we send.
_SESSION_EXPIRY_INTERVAL = 0x11
_RECEIVE_MAXIMUM = 0x21
_MAXIMUM_PACKET_SIZE = 0x27

_U16 = struct.Struct("!H")
_PUBACK_PACKET = struct.Struct("!BBH")

# (topic, payload, packet id: 0 for QoS 0)
Publish = tuple[bytes, bytes, int]


class MqttError(Exception):
    """The connection failed, was refused or was lost."""


class ConnectRefused(MqttError):
    """The broker refused our CONNECT for a reason retrying will not cure (credentials, client
    id, protocol version, authorisation)."""


# CONNACK reason codes that say so: 0x84 protocol version, 0x85 client id, 0x86 user name or
# password, 0x87 not authorized, 0x8A banned, 0x8C bad authentication method.
_REFUSED_FOR_GOOD = {0x84: "unsupported protocol version", 0x85: "client id not valid"} | {
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
    return _packet(_CONNECT, variable + payload)


def subscribe_packet(packet_id: int, topics: Sequence[str], qos: int = 1) -> bytes:
    body = _U16.pack(packet_id) + b"\x00"  # no properties
    for topic in topics:
        body += _string(topic) + bytes([qos])
    return _packet(_SUBSCRIBE, body)


def puback_packets(packet_ids: Sequence[int]) -> bytes:
    """PUBACKs (Success, so the v5 reason code is left out) for these ids, back to back."""
    pack = _PUBACK_PACKET.pack
    return b"".join([pack(_PUBACK, 2, packet_id) for packet_id in packet_ids])


class _Protocol(asyncio.Protocol):
    """Splits the byte stream into packets; PUBLISHes go to ``on_publish`` in batches."""

    def __init__(self, on_publish: Callable[[list[Publish]], None]) -> None:
        self.on_publish = on_publish
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.connack: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.suback: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.heard = True  # anything received since the last keepalive tick
        self.paused = False  # not reading: the broker's silence is then ours

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(MqttError(f"connection lost: {exc}" if exc else "connection closed"))

    def _fail(self, error: MqttError) -> None:
        for future in (self.connack, self.suback):
            if not future.done():
                future.set_exception(error)
                future.exception()  # retrieved here: a waiter may never come
        if not self.closed.done():
            self.closed.set_exception(error)
            self.closed.exception()
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        self.heard = True
        buffer = self.buffer + data if self.buffer else data
        size = len(buffer)
        position = 0
        publishes: list[Publish] = []
        try:
            while position + 2 <= size:
                first = buffer[position]
                length = buffer[position + 1]
                cursor = position + 2
                if length >= 0x80:  # remaining length: a variable byte integer of 1-4 bytes
                    length &= 0x7F
                    shift = 7
                    while True:
                        if cursor >= size:
                            length = -1
                            break
                        byte = buffer[cursor]
                        cursor += 1
                        length |= (byte & 0x7F) << shift
                        if byte < 0x80:
                            break
                        shift += 7
                        if shift > 21:
                            raise MqttError("malformed remaining length")
                    if length < 0:
                        break
                end = cursor + length
                if end > size:
                    break
                if first & 0xF0 == _PUBLISH:
                    topic_end = cursor + 2 + (buffer[cursor] << 8 | buffer[cursor + 1])
                    topic = buffer[cursor + 2 : topic_end]
                    qos = (first >> 1) & 3
                    if qos == 1:
                        packet_id = buffer[topic_end] << 8 | buffer[topic_end + 1]
                        cursor = topic_end + 2
                    elif qos == 0:
                        packet_id = 0
                        cursor = topic_end
                    else:
                        raise MqttError(f"QoS {qos} delivery on a QoS 1 subscription")
                    # Properties: a length (varint) and the properties, skipped.
                    byte = buffer[cursor]
                    if byte < 0x80:
                        cursor += 1 + byte
                    else:
                        skip = 0
                        shift = 0
                        while True:
                            byte = buffer[cursor]
                            cursor += 1
                            skip |= (byte & 0x7F) << shift
                            shift += 7
                            if byte < 0x80:
                                break
                        cursor += skip
                    if cursor > end:
                        raise MqttError("malformed PUBLISH")
                    publishes.append((topic, buffer[cursor:end], packet_id))
                else:
                    self._control(first, buffer[cursor:end])
                position = end
        except (IndexError, MqttError) as exc:
            self._fail(exc if isinstance(exc, MqttError) else MqttError("malformed packet"))
            return
        self.buffer = buffer[position:]
        if publishes:
            self.on_publish(publishes)

    def _control(self, first: int, body: bytes) -> None:
        kind = first & 0xF0
        if kind == _CONNACK and not self.connack.done():
            self.connack.set_result(body)
        elif kind == _SUBACK and not self.suback.done():
            self.suback.set_result(body)
        elif kind == _PINGRESP:
            pass
        elif kind == _DISCONNECT:
            reason = body[0] if body else 0
            raise MqttError(f"broker sent DISCONNECT (reason 0x{reason:02x})")
        else:
            raise MqttError(f"unexpected packet type 0x{first:02x}")


class MqttSubscriber:
    """One connection to the broker; use as ``async with``, then ``subscribe`` and ``ack``."""

    def __init__(self, options: ConnectOptions, on_publish: Callable[[list[Publish]], None]):
        self.options = options
        self.on_publish = on_publish
        self._protocol: _Protocol | None = None
        self._keepalive: asyncio.Task[None] | None = None

    async def __aenter__(self) -> MqttSubscriber:
        loop = asyncio.get_running_loop()
        options = self.options
        try:
            _, protocol = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Protocol(self.on_publish), options.host, options.port
                ),
                options.timeout_s,
            )
        except (OSError, TimeoutError) as exc:
            raise MqttError(f"cannot reach {options.host}:{options.port}: {exc}") from exc
        self._protocol = protocol
        try:
            self._write(connect_packet(options))
            connack = await asyncio.wait_for(protocol.connack, options.timeout_s)
        except TimeoutError as exc:
            protocol._fail(MqttError("no CONNACK"))
            raise MqttError(f"no CONNACK within {options.timeout_s} s") from exc
        except BaseException:
            protocol._fail(MqttError("connect aborted"))
            raise
        if len(connack) < 2 or connack[1] >= 0x80:
            protocol._fail(MqttError("refused"))
            reason = connack[1] if len(connack) >= 2 else 0x80
            if reason in _REFUSED_FOR_GOOD:
                raise ConnectRefused(
                    f"broker at {options.host}:{options.port} refused client {options.client_id!r}:"
                    f" {_REFUSED_FOR_GOOD[reason]} (reason 0x{reason:02x})"
                )
            raise MqttError(f"broker refused the connection (reason 0x{reason:02x})")
        self._keepalive = asyncio.create_task(self._keep_alive())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keepalive
        protocol = self._protocol
        if protocol is not None and protocol.transport is not None:
            if not protocol.transport.is_closing():
                protocol.transport.write(_DISCONNECT_NORMAL)
                protocol.transport.close()

    @property
    def closed(self) -> asyncio.Future[None]:
        """Fails with ``MqttError`` when the connection is lost."""
        assert self._protocol is not None
        return self._protocol.closed

    async def subscribe(self, topics: Sequence[str]) -> None:
        assert self._protocol is not None
        self._write(subscribe_packet(1, topics))
        try:
            suback = await asyncio.wait_for(self._protocol.suback, self.options.timeout_s)
        except TimeoutError as exc:
            raise MqttError(f"no SUBACK within {self.options.timeout_s} s") from exc
        # Packet id (2), properties (length + body), then one reason code per topic.
        properties = suback[2]
        codes = suback[3 + properties :] if properties < 0x80 else b""
        if len(codes) != len(topics) or any(code >= 0x80 for code in codes):
            raise MqttError(f"subscription refused (reason codes {codes.hex()})")

    def pause_reading(self) -> None:
        """Stop reading from the broker (TCP flow control holds the rest back)."""
        protocol = self._protocol
        if protocol is not None and protocol.transport is not None:
            protocol.paused = True
            protocol.transport.pause_reading()

    def resume_reading(self) -> None:
        protocol = self._protocol
        if protocol is not None and protocol.transport is not None:
            protocol.paused = False
            if not protocol.transport.is_closing():
                protocol.transport.resume_reading()

    def ack(self, packet_ids: Sequence[int]) -> None:
        """PUBACK these QoS 1 messages (received on this connection), in one write."""
        if packet_ids:
            self._write(puback_packets(packet_ids))

    def _write(self, data: bytes) -> None:
        protocol = self._protocol
        if protocol is None or protocol.transport is None or protocol.transport.is_closing():
            raise MqttError("not connected")
        protocol.transport.write(data)

    async def _keep_alive(self) -> None:
        """PINGREQ at half the keepalive; a broker silent for a whole keepalive is gone."""
        assert self._protocol is not None
        protocol = self._protocol
        period = self.options.keepalive_s / 2
        silent = 0.0
        while not protocol.closed.done():
            await asyncio.sleep(period)
            silent = 0.0 if protocol.heard or protocol.paused else silent + period
            protocol.heard = False
            if silent >= self.options.keepalive_s:
                protocol._fail(MqttError("broker silent for a whole keepalive"))
                return
            with contextlib.suppress(MqttError):
                self._write(_PINGREQ)
