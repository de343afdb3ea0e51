"""The ``mqtt`` section of ``core.config.Settings``: the broker every MQTT client of ours reaches
(the ingest worker, the API's health probe, the simulator), and the TLS they reach it with.

One ``ssl.SSLContext`` is built from these settings by :func:`client_ssl_context` and handed to
each client's own library (asyncio, aiomqtt, paho), so the three cannot drift apart.
"""

from __future__ import annotations

import ssl
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator


class MqttSettings(BaseModel):
    host: str = Field("127.0.0.1", description="MQTT broker host.")
    port: int = Field(1883, description="MQTT broker port (8883 is the usual TLS one).")
    username: str | None = Field(None, description="MQTT user name, if the broker wants one.")
    password: SecretStr | None = Field(None, description="MQTT password.")
    password_file: str | None = Field(
        None,
        description="Mosquitto password file where meters' credentials are issued"
        " (`waterbill meters credentials`); the broker's copy is the only one.",
    )
    broker_pid_file: str | None = Field(
        None,
        description="Broker's pid file: SIGHUP after issuing credentials makes Mosquitto re-read"
        " its password file. Unset: reload the broker yourself.",
    )
    protocol: Literal["5", "3.1.1"] = Field(
        "5",
        description="MQTT version spoken to the broker. `3.1.1` for brokers without MQTT 5 (NATS"
        " JetStream's MQTT interface); the ingest worker then has no Receive Maximum or Maximum"
        " Packet Size to announce and bounds its memory by pausing its reads alone.",
    )
    topic_prefix: str = Field("wb", description="First topic level: `<prefix>/<shard>/meters/...`.")
    shards: int = Field(
        16, ge=1, le=1024, description="Number of topic shards meters are spread over."
    )
    tls: bool = Field(
        False,
        description="Reach the broker over TLS (the ingest worker, the health probe and the"
        " simulator alike).",
    )
    tls_ca_file: str | None = Field(
        None,
        description="PEM file of the CA(s) that signed the broker's certificate; unset: the"
        " system's trusted CAs.",
    )
    tls_cert_file: str | None = Field(
        None,
        description="PEM client certificate, for a broker listener that requires one"
        " (`require_certificate true`).",
    )
    tls_key_file: str | None = Field(
        None, description="PEM private key of `tls_cert_file` (unset: it is in that file)."
    )
    tls_check_hostname: bool = Field(
        True,
        description="Refuse a broker certificate that does not name `host`. Turn off only for a"
        " broker reached by an address its certificate cannot name, with a private CA.",
    )

    @model_validator(mode="after")
    def _tls_files_need_tls(self) -> MqttSettings:
        """A CA or client certificate given with TLS off would be silently unused: refuse it."""
        given = [
            name
            for name in ("tls_ca_file", "tls_cert_file", "tls_key_file")
            if getattr(self, name) is not None
        ]
        if given and not self.tls:
            names = ", ".join(f"WATERBILL_MQTT__{name.upper()}" for name in given)
            raise ValueError(f"{names} set but WATERBILL_MQTT__TLS is off: set it to true")
        if self.tls_key_file is not None and self.tls_cert_file is None:
            raise ValueError("WATERBILL_MQTT__TLS_KEY_FILE needs WATERBILL_MQTT__TLS_CERT_FILE")
        return self


class _ClosingSSLSocket(ssl.SSLSocket):
    """Closes itself when its handshake fails: paho 2.2 (the simulator's client, and aiomqtt's
    under the health probe and the ingest worker) leaves the socket of a refused handshake open
    until the garbage collector finds it (``_ssl_wrap_socket`` in paho/mqtt/client.py), one per
    attempt. Keeps the TLS error that ended a read (a broker refusing our client certificate
    after a TLS 1.3 handshake), which paho only logs, for the worker's error message."""

    read_error: ssl.SSLError | None = None

    def do_handshake(self, block: bool = False) -> None:
        try:
            super().do_handshake(block)
        except BaseException:
            self.close()
            raise

    def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:
        try:
            return super().recv(buflen, flags)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            raise
        except ssl.SSLError as exc:
            self.read_error = exc
            raise


class TlsConfigError(Exception):
    """A TLS file named in the settings cannot be read or is not what it should be."""


def client_ssl_context(settings: MqttSettings) -> ssl.SSLContext | None:
    """The TLS context of an MQTT client, or None when TLS is off.

    Certificates are always verified (there is no setting to turn that off); only the hostname
    check may be, with ``tls_check_hostname``.

    Raises:
        TlsConfigError: a CA, certificate or key file is missing or unreadable as PEM.
    """
    if not settings.tls:
        return None
    try:
        context = ssl.create_default_context(cafile=settings.tls_ca_file)
        if settings.tls_cert_file is not None:
            context.load_cert_chain(settings.tls_cert_file, settings.tls_key_file)
    except (OSError, ssl.SSLError) as exc:
        # Name the files, never their content (a key file's).
        files = [settings.tls_ca_file, settings.tls_cert_file, settings.tls_key_file]
        named = ", ".join(name for name in files if name)
        raise TlsConfigError(f"cannot load the MQTT TLS files ({named}): {exc}") from exc
    context.check_hostname = settings.tls_check_hostname
    context.sslsocket_class = _ClosingSSLSocket  # used by paho's sockets; asyncio has its own
    return context
