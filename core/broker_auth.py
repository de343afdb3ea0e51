"""Mosquitto's auth store: its password file, its ACL file, and the SIGHUP that reloads both.

Meters log in with their serial as user name and may publish only on their own uplink topic;
service accounts (ingest workers, the API's health probe, test harnesses) have names no serial
can take (they contain ``@``), so a meter can never be registered under one.
Ref: https://mosquitto.org/man/mosquitto_passwd-1.html, https://mosquitto.org/man/mosquitto-conf-5.html
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import secrets
import signal
import socket
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

# What `mosquitto_passwd` 2.0 writes: PBKDF2-HMAC-SHA512, 101 rounds, a 12-byte salt. Few rounds
# because the broker hashes on every CONNECT; the passwords are random 192-bit strings, so a
# stolen file cannot be brute-forced whatever the round count.
HASH_ITERATIONS = 101
SALT_BYTES = 12
PASSWORD_BYTES = 24


class Access(StrEnum):
    READ = "read"
    READWRITE = "readwrite"


@dataclass(frozen=True)
class ServiceAccount:
    """A non-meter broker user: ``READ`` on the uplinks, or ``READWRITE`` on every topic."""

    username: str
    password: str
    access: Access = Access.READ


# Service accounts of the local stack; names with "@" can never be a meter serial.
INGEST_ACCOUNT = "ingest@waterbill"
API_ACCOUNT = "api@waterbill"
TEST_ACCOUNT = "tests@waterbill"


def default_accounts() -> list[ServiceAccount]:
    """The ingest worker's and the API health probe's logins, with fresh passwords."""
    return [
        ServiceAccount(INGEST_ACCOUNT, new_password(), Access.READ),
        ServiceAccount(API_ACCOUNT, new_password(), Access.READ),
    ]


def new_password() -> str:
    return secrets.token_urlsafe(PASSWORD_BYTES)


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """A ``$7$`` line value, as ``mosquitto_passwd`` makes it."""
    salt = salt if salt is not None else os.urandom(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, HASH_ITERATIONS)
    encoded = (base64.b64encode(part).decode() for part in (salt, digest))
    return f"$7${HASH_ITERATIONS}${'$'.join(encoded)}"


def _write_atomically(path: Path, text: str) -> None:
    # The broker may re-read the file at any moment: it sees the old one or the new one, whole.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(tmp, 0o640)
    os.replace(tmp, path)


def read_password_file(path: Path) -> dict[str, str]:
    """User name -> hash; an absent file is an empty one."""
    if not path.exists():
        return {}
    entries = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            username, _, hashed = line.partition(":")
            entries[username] = hashed
    return entries


@contextmanager
def _one_writer(path: Path) -> Iterator[None]:
    """Serialise writers (API workers, the CLI, the simulator): each reads the whole file and
    replaces it, so two at once would drop one's logins."""
    with open(path.with_name(f".{path.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def set_passwords(path: Path, passwords: dict[str, str]) -> None:
    """Add or replace users' passwords in a Mosquitto password file, keeping the other users."""
    hashed = {user: hash_password(password) for user, password in passwords.items()}
    with _one_writer(path):
        entries = {**read_password_file(path), **hashed}
        _write_atomically(path, "".join(f"{user}:{line}\n" for user, line in entries.items()))


def acl_text(prefix: str, accounts: Iterable[ServiceAccount]) -> str:
    """The ACL file: service accounts by name, then every other user as a meter."""
    lines = []
    for account in accounts:
        topic = f"{prefix}/#" if account.access is Access.READ else "#"
        lines += [f"user {account.username}", f"topic {account.access} {topic}", ""]
    # A pattern applies to every user: %u is the user name, a meter's serial.
    lines += [f"pattern write {prefix}/+/meters/%u/up", ""]
    return "\n".join(lines)


def write_acl_file(path: Path, prefix: str, accounts: Iterable[ServiceAccount]) -> None:
    _write_atomically(path, acl_text(prefix, accounts))


def reload_broker(pid_file: Path) -> None:
    """SIGHUP the broker: Mosquitto re-reads its password and ACL files."""
    os.kill(int(pid_file.read_text().strip()), signal.SIGHUP)


# An MQTT 3.1.1 CONNECT with an empty client id: any CONNACK, even a refusal, will do.
_PROBE_CONNECT = bytes.fromhex("100c00044d5154540402003c0000")


def broker_answers(port: int, host: str = "127.0.0.1") -> bool:
    """Whether the broker answers a CONNECT: past start-up, its SIGHUP handler is installed.

    An open port is not enough: Mosquitto listens before it handles signals, and a SIGHUP then
    (issuing a meter's credentials right after start) would terminate it.
    """
    with socket.create_connection((host, port), timeout=1) as sock:
        sock.sendall(_PROBE_CONNECT)
        return sock.recv(1)[:1] == b"\x20"
