"""A minimal asyncio MQTT v5 subscriber: what the ingest worker needs, at its message rate.

paho (under aiomqtt) builds a message object, a properties object, a topic matcher walk and a
callback chain per PUBLISH, and writes one socket packet per PUBACK: most of the worker's CPU at
tens of thousands of messages a second (py-spy, bench/ingest.py). This client does only:

- TCP or TLS (an ``ssl.SSLContext`` from the settings: CA, client certificate, hostname check);
- CONNECT with ``clean_start=False``, a session expiry interval and a Receive Maximum, so the
  broker keeps our session (and its queued readings) while we are away, and a Maximum Packet
  Size, so it never sends us a message larger than we will hold in memory; CONNACK's Session
  Present flag is kept for the caller, who alone knows whether a session was expected;
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
import ssl
from collections.abc import Callable, Sequence
from typing import Protocol, Self

from ingest.mqtt_packets import (
    CONNACK,
    DISCONNECT,
    DISCONNECT_NORMAL,
    PINGREQ,
    PINGRESP,
    PUBLISH,
    REFUSED_FOR_GOOD,
    SUBACK,
    Connack,
    ConnectOptions,
    Publish,
    connect_packet,
    puback_packets,
    suback_refused,
    subscribe_packet,
)


class MqttError(Exception):
    """The connection failed, was refused or was lost."""


class ConnectRefused(MqttError):
    """The broker refused our CONNECT for a reason retrying will not cure (credentials, client
    id, protocol version, authorisation)."""


class TlsRefused(ConnectRefused):
    """The TLS handshake failed: an unknown CA, a certificate for another host name, a client
    certificate the broker wants and did not get, or TLS against a plain listener."""


class Subscriber(Protocol):
    """What the worker needs of a transport (this module's client or ``ingest.mqtt_aiomqtt``'s):
    one connection, entered with ``async with``."""

    session_present: bool

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc: object) -> None: ...

    @property
    def closed(self) -> asyncio.Future[None]: ...

    async def subscribe(self, topics: Sequence[str], qos: int = 1) -> None: ...

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def ack(self, packet_ids: Sequence[int]) -> None: ...


# A transport: a subscriber class, called with the options and the worker's ``on_publish``.
Transport = Callable[[ConnectOptions, Callable[[list[Publish]], None]], Subscriber]


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
        self.lost_to: Exception | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost_to = exc
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
                if first & 0xF0 == PUBLISH:
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
        if kind == CONNACK and not self.connack.done():
            self.connack.set_result(body)
        elif kind == SUBACK and not self.suback.done():
            self.suback.set_result(body)
        elif kind == PINGRESP:
            pass
        elif kind == DISCONNECT:
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
        # CONNACK's flag: the broker still had our session (and what it queued for us).
        self.session_present = False

    async def __aenter__(self) -> MqttSubscriber:
        loop = asyncio.get_running_loop()
        options = self.options
        where = f"{options.host}:{options.port}"
        try:
            _, protocol = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Protocol(self.on_publish), options.host, options.port, ssl=options.ssl
                ),
                options.timeout_s,
            )
        except ssl.SSLError as exc:
            raise TlsRefused(f"TLS handshake with {where} failed: {_tls_reason(exc)}") from exc
        except ConnectionResetError as exc:
            # A plain listener reads our ClientHello as a malformed CONNECT and drops us: say
            # so, but retry (a reset can also be the network's).
            hint = " during the TLS handshake (is this port a TLS listener?)" if options.ssl else ""
            raise MqttError(f"cannot reach {where}{hint}: {exc}") from exc
        except (OSError, TimeoutError) as exc:
            raise MqttError(f"cannot reach {where}: {exc}") from exc
        self._protocol = protocol
        try:
            self._write(connect_packet(options))
            connack = Connack.parse(await asyncio.wait_for(protocol.connack, options.timeout_s))
        except TimeoutError as exc:
            protocol._fail(MqttError("no CONNACK"))
            raise MqttError(f"no CONNACK within {options.timeout_s} s") from exc
        except MqttError as exc:
            # With TLS 1.3 the broker checks our certificate after the handshake: its refusal
            # arrives as an alert in place of the CONNACK (the connection may not be closed yet).
            with contextlib.suppress(MqttError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(protocol.closed), 1)
            if isinstance(protocol.lost_to, ssl.SSLError):
                reason = _tls_reason(protocol.lost_to)
                raise TlsRefused(f"broker at {where} ended the TLS session: {reason}") from exc
            if options.ssl is None:
                hint = "a TLS listener? see WATERBILL_MQTT__TLS"
                raise MqttError(f"{exc} before CONNACK ({hint})") from exc
            raise
        except BaseException:
            protocol._fail(MqttError("connect aborted"))
            raise
        if connack.reason >= 0x80:
            protocol._fail(MqttError("refused"))
            if connack.reason in REFUSED_FOR_GOOD:
                raise ConnectRefused(
                    f"broker at {where} refused client {options.client_id!r}:"
                    f" {REFUSED_FOR_GOOD[connack.reason]} (reason 0x{connack.reason:02x})"
                )
            raise MqttError(f"broker refused the connection (reason 0x{connack.reason:02x})")
        self.session_present = connack.session_present
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
                protocol.transport.write(DISCONNECT_NORMAL)
                protocol.transport.close()

    @property
    def closed(self) -> asyncio.Future[None]:
        """Fails with ``MqttError`` when the connection is lost."""
        assert self._protocol is not None
        return self._protocol.closed

    async def subscribe(self, topics: Sequence[str], qos: int = 1) -> None:
        assert self._protocol is not None
        self._write(subscribe_packet(1, topics, qos))
        try:
            suback = await asyncio.wait_for(self._protocol.suback, self.options.timeout_s)
        except TimeoutError as exc:
            raise MqttError(f"no SUBACK within {self.options.timeout_s} s") from exc
        codes = suback_refused(suback, len(topics))
        if codes is not None:
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
                self._write(PINGREQ)


def _tls_reason(exc: ssl.SSLError) -> str:
    """OpenSSL's own words (``verify_message`` says which check failed: CA, host name, date)."""
    verify = getattr(exc, "verify_message", None)
    return f"{exc.reason}: {verify}" if verify else str(exc.reason or exc)
