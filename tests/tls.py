"""A throwaway PKI made with `openssl` for the TLS tests: a CA, server certificates (one for
127.0.0.1/localhost, one for another host name), a client certificate, and a second, unrelated CA.

EC P-256 keys: each certificate takes milliseconds. Validity is counted from the machine's clock
by openssl itself, so no test depends on a date.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from core.broker_auth import INGEST_ACCOUNT
from core.config import MqttSettings
from core.local_mosquitto import LocalMosquitto, TlsListener
from tests.broker import suite_broker

_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _ca(directory: Path, name: str) -> tuple[Path, Path]:
    key, cert = directory / f"{name}.key", directory / f"{name}.crt"
    _openssl(
        "req", "-x509", *_KEY, "-keyout", str(key), "-out", str(cert), "-days", "2",
        "-subj", f"/CN=WaterBill test {name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    return cert, key


def _leaf(directory: Path, name: str, ca: tuple[Path, Path], extensions: str) -> tuple[Path, Path]:
    key, cert = directory / f"{name}.key", directory / f"{name}.crt"
    csr, ext = directory / f"{name}.csr", directory / f"{name}.ext"
    ext.write_text(f"basicConstraints=CA:FALSE\n{extensions}\n")
    subject = f"/CN={name}"
    _openssl("req", *_KEY, "-keyout", str(key), "-out", str(csr), "-subj", subject, cwd=directory)
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]),
        "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext),
        cwd=directory,
    )  # fmt: skip
    return cert, key


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    # Signed by the same CA for a name the tests never connect to.
    other_host_cert: Path
    other_host_key: Path
    client_cert: Path
    client_key: Path
    # A CA that signed nothing here.
    wrong_ca: Path


def make_pki(directory: Path) -> Pki:
    directory.mkdir(parents=True, exist_ok=True)
    ca = _ca(directory, "ca")
    server = _leaf(
        directory,
        "server",
        ca,
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth",
    )
    elsewhere = "subjectAltName=DNS:broker.invalid\nextendedKeyUsage=serverAuth"
    other = _leaf(directory, "other-host", ca, elsewhere)
    client = _leaf(directory, INGEST_ACCOUNT, ca, "extendedKeyUsage=clientAuth")
    wrong_ca, _ = _ca(directory, "wrong-ca")
    return Pki(ca[0], *server, *other, *client, wrong_ca)


@dataclass(frozen=True)
class TlsBroker:
    """A started broker with three TLS listeners besides its plain one."""

    broker: LocalMosquitto
    pki: Pki
    server_auth: TlsListener  # server certificate for 127.0.0.1, no client certificate asked
    client_cert: TlsListener  # the same, and a client certificate required
    other_host: TlsListener  # a certificate for broker.invalid, signed by the same CA

    def settings(self, username: str, listener: TlsListener, **tls: object) -> MqttSettings:
        """A login's settings on one listener, trusting the test CA (``tls`` overrides)."""
        plain = self.broker.settings(username)
        fields = {"port": listener.port, "tls": True, "tls_ca_file": str(self.pki.ca), **tls}
        return MqttSettings.model_validate({**plain.model_dump(), **fields})


@contextmanager
def tls_broker(root: Path) -> Iterator[TlsBroker]:
    pki = make_pki(root / "pki")
    server = TlsListener(pki.server_cert, pki.server_key, pki.ca)
    client = TlsListener(pki.server_cert, pki.server_key, pki.ca, require_certificate=True)
    other = TlsListener(pki.other_host_cert, pki.other_host_key, pki.ca)
    with suite_broker(root=root / "broker", tls_listeners=[server, client, other]) as broker:
        yield TlsBroker(broker, pki, server, client, other)
