"""The ingest worker's default MQTT transport: aiomqtt, with paho-mqtt underneath.

The same interface as the hand-written ``ingest.mqtt.MqttSubscriber`` (``async with``, then
``subscribe``, ``ack`` after the commit, ``pause_reading``/``resume_reading``, ``closed``,
``session_present``) and the same errors, so the worker does not know which one it drives.

aiomqtt 2.5 acknowledges QoS 1 messages on receipt and keeps CONNACK's flags to itself, so a few
of its (and paho's) callbacks are replaced here; aiomqtt is pinned below 3.0, which drops paho.

- Manual acknowledgement: paho's ``manual_ack`` (set before CONNECT) stops it acknowledging on
  receipt; after the commit, the batch's PUBACKs go through paho's output queue in one write.
- Messages skip aiomqtt's queue and ``Message`` objects: each PUBLISH goes to the worker's
  ``on_publish`` callback as ``(topic, payload, packet id)``, decoded in the read callback, so
  decoding overlaps the database's work on the previous batch (as with the native transport).
- Backpressure: MQTT 5's Receive Maximum bounds unacknowledged QoS 1 deliveries; on top of that
  (and for MQTT 3.1.1, which has none) ``pause_reading`` takes the socket out of the event loop
  until the worker resumes it, and TCP flow control holds the rest back at the broker.
- MQTT 3.1.1 and 5, TLS from ``core.config_mqtt.client_ssl_context`` and username/password.

Ref: https://github.com/empicano/aiomqtt/blob/v2.5.1/aiomqtt/client.py,
https://eclipse.dev/paho/files/paho.mqtt.python/html/client.html (``manual_ack``, ``ack``).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Sequence
from typing import Any

import aiomqtt
import paho.mqtt.client as paho
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from ingest.mqtt import ConnectRefused, MqttError, TlsRefused
from ingest.mqtt_packets import (
    PUBACK,
    REFUSED_FOR_GOOD,
    ConnectOptions,
    Publish,
    puback_packets,
)

# Packets read per wake-up of the event loop at most: paho reads one packet per ``loop_read``
# call when nothing of ours is in flight, one event-loop round per message; a burst amortises
# that round and still lets the worker's own tasks (its batch writes, keepalive) run in between.
READ_BURST = 256


class _Client(aiomqtt.Client):
    """aiomqtt's client with the worker's hooks: raw deliveries, CONNACK's flags, why a
    connection ended before its CONNACK, and a pausable reader."""

    def __init__(
        self, on_publish: Callable[[list[Publish]], None], *args: Any, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.on_publish = on_publish
        self.session_present = False
        self.received: list[Publish] = []
        # What ended the connection before a CONNACK came (a TLS alert, say), for the error.
        self.lost_to: Exception | None = None
        self.fileno = -1
        self.paused = False
        self._client.manual_ack_set(True)

    def _on_connect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: paho.ConnectFlags,
        reason_code: Any,
        properties: Properties | None = None,
    ) -> None:
        self.session_present = flags.session_present
        super()._on_connect(client, userdata, flags, reason_code, properties)

    def _on_disconnect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: paho.DisconnectFlags,
        reason_code: Any,
        properties: Properties | None = None,
    ) -> None:
        if not self._connected.done():
            # aiomqtt would wait out its timeout for a CONNACK that cannot come any more.
            self._connected.set_exception(aiomqtt.MqttError("connection closed before CONNACK"))
            return
        super()._on_disconnect(client, userdata, flags, reason_code, properties)

    def _on_message(
        self,
        client: paho.Client,  # noqa: ARG002 (paho's callback signature)
        userdata: Any,  # noqa: ARG002
        message: paho.MQTTMessage,
    ) -> None:
        # ``_topic``: the topic's bytes, as the worker's topic cache keys them (``.topic``
        # decodes them on every access).
        self.received.append((message._topic, bytes(message.payload), message.mid))

    def _on_socket_open(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        super()._on_socket_open(client, userdata, sock)
        # Called from the connecting thread; runs after aiomqtt's own reader is added, and
        # replaces it (one reader per file descriptor).
        self._loop.call_soon_threadsafe(self._start_reading, sock.fileno())

    def _on_socket_close(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        self.lost_to = self.lost_to or getattr(sock, "read_error", None)
        self.fileno = -1
        super()._on_socket_close(client, userdata, sock)

    def _start_reading(self, fileno: int) -> None:
        if self._client.socket() is None:
            return  # closed meanwhile
        self.fileno = fileno
        if not self.paused:
            self._loop.add_reader(fileno, self._read)

    def pause(self) -> None:
        self.paused = True
        if self.fileno >= 0:
            self._loop.remove_reader(self.fileno)

    def resume(self) -> None:
        self.paused = False
        if self.fileno >= 0:
            self._loop.add_reader(self.fileno, self._read)
            # TLS may hold decrypted bytes the socket no longer signals.
            self._loop.call_soon(self._read)

    def _read(self) -> None:
        client = self._client
        try:
            for _ in range(READ_BURST):
                if self.paused or client.socket() is None:
                    break
                # ``_packet_read`` (what ``loop_read`` calls once per call) says when the socket
                # is empty, so a burst stops there.
                rc = client._packet_read()
                if rc == paho.MQTT_ERR_AGAIN:
                    break
                if rc > 0:
                    client._loop_rc_handle(rc)
                    break
            else:
                # TLS may hold decrypted bytes the socket no longer signals.
                self._loop.call_soon(self._read)
        except Exception as exc:  # a broken socket: the connection is gone
            if not self._disconnected.done():
                self._disconnected.set_exception(exc)
        finally:
            if self.received:
                received, self.received = self.received, []
                self.on_publish(received)

    async def _misc_loop(self) -> None:
        """paho's keepalive, once a second; while paused, the broker's silence is ours (its
        PINGRESP waits unread in the socket), so a missing PINGRESP does not end the session."""
        while True:
            if self.paused:
                self._client._ping_t = 0
            if self._client.loop_misc() != paho.MQTT_ERR_SUCCESS:
                return
            await asyncio.sleep(1)


class AiomqttSubscriber:
    """One connection to the broker through aiomqtt; use as ``async with``, then ``subscribe``
    and ``ack`` (see ``ingest.mqtt.MqttSubscriber``)."""

    def __init__(self, options: ConnectOptions, on_publish: Callable[[list[Publish]], None]):
        self.options = options
        self.on_publish = on_publish
        self.session_present = False
        self._client: _Client | None = None
        self._closed: asyncio.Future[None] | None = None

    def _make_client(self) -> _Client:
        options = self.options
        v5 = options.protocol_version == 5
        properties = None
        if v5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = options.session_expiry_s
            properties.ReceiveMaximum = options.receive_maximum
            if options.maximum_packet_size is not None:
                properties.MaximumPacketSize = options.maximum_packet_size
        return _Client(
            self.on_publish,
            options.host,
            options.port,
            username=options.username,
            password=options.password,
            identifier=options.client_id,
            protocol=aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311,
            # 3.1.1: a session without expiry, or none (the unserved-topics watcher's).
            clean_session=None if v5 else options.session_expiry_s == 0,
            # 5: resume the session the broker keeps for our client id, always (paho refuses
            # anything but its default for 3.1.1).
            clean_start=False if v5 else paho.MQTT_CLEAN_START_FIRST_ONLY,
            keepalive=options.keepalive_s,
            timeout=options.timeout_s,
            properties=properties,
            tls_context=options.ssl,
        )

    async def __aenter__(self) -> AiomqttSubscriber:
        options = self.options
        where = f"{options.host}:{options.port}"
        client = self._make_client()
        try:
            await client.__aenter__()
        except MqttConnectError as exc:
            code = exc.rc.value if isinstance(exc.rc, ReasonCode) else exc.rc
            if code in REFUSED_FOR_GOOD:
                raise ConnectRefused(
                    f"broker at {where} refused client {options.client_id!r}:"
                    f" {REFUSED_FOR_GOOD[code]} (reason 0x{code:02x})"
                ) from None
            raise MqttError(f"broker refused the connection ({exc})") from None
        except aiomqtt.MqttError as exc:
            raise self._connect_error(client, where, exc) from None
        self._client = client
        self.session_present = client.session_present
        closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def lost(disconnected: asyncio.Future[None]) -> None:
            if not closed.done():
                error = disconnected.exception() if not disconnected.cancelled() else None
                closed.set_exception(MqttError(f"connection lost: {error or 'closed'}"))
                closed.exception()  # retrieved here: a waiter may never come

        client._disconnected.add_done_callback(lost)
        self._closed = closed
        return self

    def _connect_error(self, client: _Client, where: str, exc: Exception) -> MqttError:
        """Our error for a failed connection: TLS refusals apart, retrying will not cure them."""
        cause = exc.__context__ if isinstance(exc.__context__, OSError) else None
        tls_error = client.lost_to or cause
        if isinstance(tls_error, ssl.SSLError) and not isinstance(tls_error, ssl.SSLEOFError):
            return TlsRefused(f"TLS handshake with {where} failed: {_tls_reason(tls_error)}")
        if self.options.ssl is not None and isinstance(
            tls_error, (ssl.SSLEOFError, ConnectionResetError)
        ):
            # A plain listener reads our ClientHello as a malformed CONNECT and drops us.
            return MqttError(
                f"cannot reach {where} during the TLS handshake (is this port a TLS listener?):"
                f" {exc}"
            )
        if "before CONNACK" in str(exc) and self.options.ssl is None:
            return MqttError(f"{exc} (a TLS listener? see WATERBILL_MQTT__TLS)")
        return MqttError(f"cannot reach {where}: {exc}")

    async def __aexit__(self, *exc: object) -> None:
        client = self._client
        if client is None:
            return
        client.pause()
        try:
            await client.__aexit__(None, None, None)
        except aiomqtt.MqttError:
            pass  # already gone: nothing of ours is left to say goodbye to

    @property
    def closed(self) -> asyncio.Future[None]:
        """Fails with ``MqttError`` when the connection is lost."""
        assert self._closed is not None
        return self._closed

    async def subscribe(self, topics: Sequence[str], qos: int = 1) -> None:
        assert self._client is not None
        try:
            granted = await self._client.subscribe([(topic, qos) for topic in topics])
        except aiomqtt.MqttError as exc:
            raise MqttError(f"subscription failed: {exc}") from None
        codes = [code.value if isinstance(code, ReasonCode) else code for code in granted]
        if len(codes) != len(topics) or any(code >= 0x80 for code in codes):
            raise MqttError(f"subscription refused (reason codes {codes})")

    def pause_reading(self) -> None:
        """Stop reading from the broker (TCP flow control holds the rest back)."""
        if self._client is not None:
            self._client.pause()

    def resume_reading(self) -> None:
        if self._client is not None:
            self._client.resume()

    def ack(self, packet_ids: Sequence[int]) -> None:
        """PUBACK these QoS 1 messages (received on this connection), in one write."""
        assert self._client is not None
        client = self._client._client
        if not packet_ids:
            return
        if client.socket() is None:
            raise MqttError("not connected")
        # paho's ``ack`` queues and sends one packet per message: ~11 µs each here (a send()
        # system call apiece), twice the native worker's whole cost per reading. The batch's
        # PUBACKs (the same bytes in MQTT 3.1.1 and 5) go into paho's output queue as one.
        client._packet_queue(PUBACK, puback_packets(packet_ids), 0, 0)


def _tls_reason(exc: ssl.SSLError) -> str:
    """OpenSSL's own words (``verify_message`` says which check failed: CA, host name, date)."""
    verify = getattr(exc, "verify_message", None)
    return f"{exc.reason}: {verify}" if verify else str(exc.reason or exc)
