"""Throwaway PostgreSQL/TimescaleDB and Mosquitto servers for tests and ``waterbill up``.

Each server gets its own data directory and a free loopback port, so nothing here touches (or
depends on) the machine's own services on their standard ports.
"""

from __future__ import annotations

import contextlib
import grp
import logging
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import psycopg
from pydantic import SecretStr

from core import broker_auth
from core.broker_auth import ServiceAccount
from core.config import MqttSettings

logger = logging.getLogger(__name__)

PG_BIN = Path("/usr/lib/postgresql/15/bin")
# initdb refuses to run as root; the Debian package always creates this account.
PG_SYSTEM_USER = "postgres"
MOSQUITTO_BIN = Path("/usr/sbin/mosquitto")


class ServiceError(RuntimeError):
    """A local server could not be started or did not answer in time."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: object, what: str, timeout: float, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceError(f"{what} exited with code {process.returncode} while starting")
        with contextlib.suppress(OSError, psycopg.OperationalError):
            if check():  # type: ignore[operator]
                return
        time.sleep(0.05)
    raise ServiceError(f"{what} did not answer within {timeout:.0f} s")


def reachable_by(user: str, path: Path) -> bool:
    """Whether ``user`` may traverse every directory down to ``path`` (mode bits, no ACLs)."""
    entry = pwd.getpwnam(user)
    groups = {entry.pw_gid, *(g.gr_gid for g in grp.getgrall() if user in g.gr_mem)}
    for directory in [*reversed(path.resolve().parents), path.resolve()]:
        if not directory.exists():
            break
        info = directory.stat()
        if info.st_uid == entry.pw_uid:
            needed = stat.S_IXUSR
        elif info.st_gid in groups:
            needed = stat.S_IXGRP
        else:
            needed = stat.S_IXOTH
        if not info.st_mode & needed:
            return False
    return True


def _user_kwargs(user: str | None) -> dict[str, Any]:
    """Popen arguments that run the child as ``user`` (signals then reach it directly)."""
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": user, "group": entry.pw_gid, "extra_groups": []}


class LocalServer:
    """Start/stop plumbing shared by the servers below: a context manager that cleans up."""

    root: Path | None
    _owned_root: bool

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def _make_root(self, prefix: str) -> Path:
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix=prefix))
            self._owned_root = True
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root

    def cleanup(self) -> None:
        """Stop, and remove the data directory when we made it."""
        self.stop()
        if self._owned_root and self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()


@dataclass
class LocalPostgres(LocalServer):
    """A PostgreSQL 15 cluster with TimescaleDB preloaded, trusted on loopback.

    Args:
        root: directory to hold the cluster; a temporary one when omitted.
        durable: keep fsync on. Off suits tests (a process crash still loses nothing committed,
            only a machine crash could); benchmarks and the demo keep it on.
    """

    root: Path | None = None
    port: int = field(default_factory=free_port)
    durable: bool = True
    extra_conf: dict[str, str] = field(default_factory=dict)
    _owned_root: bool = field(default=False, init=False)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def data_dir(self) -> Path:
        assert self.root is not None
        return self.root / "pgdata"

    @property
    def run_user(self) -> str | None:
        return PG_SYSTEM_USER if os.geteuid() == 0 else None

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> LocalPostgres:
        root = self._make_root("waterbill-pg-")
        if self.run_user:
            entry = pwd.getpwnam(self.run_user)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._write_conf()
        log = open(root / "postgres.log", "ab")
        self._process = subprocess.Popen(
            [str(PG_BIN / "postgres"), "-D", str(self.data_dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **_user_kwargs(self.run_user),
        )
        log.close()
        wait_for(self._accepts_connections, "PostgreSQL", 30, self._process)
        logger.info("PostgreSQL listening on 127.0.0.1:%d (%s)", self.port, self.data_dir)
        return self

    def _initdb(self) -> None:
        subprocess.run(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            check=True,
            capture_output=True,
            cwd=self.root,
            **_user_kwargs(self.run_user),
        )

    def _write_conf(self) -> None:
        assert self.root is not None
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            "shared_preload_libraries": "'timescaledb'",
            "timescaledb.telemetry_level": "off",
            "max_connections": "200",
            "shared_buffers": "256MB",
            "fsync": "on" if self.durable else "off",
            "full_page_writes": "on" if self.durable else "off",
            "log_min_messages": "warning",
            **self.extra_conf,
        }
        lines = [f"{key} = {value}" for key, value in conf.items()]
        (self.data_dir / "postgresql.auto.conf").write_text("\n".join(lines) + "\n")

    def _accepts_connections(self) -> bool:
        with psycopg.connect(self.url(), connect_timeout=1) as conn:
            conn.execute("SELECT 1")
        return True

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; ``mode="immediate"`` is a crash (no checkpoint), as after kill -9."""
        if self._process is None:
            return
        if self._process.poll() is None:
            sig = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}
            self._process.send_signal(sig[mode])
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()


@dataclass
class LocalMosquitto(LocalServer):
    """A Mosquitto 2 broker (MQTT v5) on a loopback port with on-disk persistence and logins.

    As in the shipped config, anonymous clients are refused unless ``allow_anonymous`` (benchmarks
    only); ``accounts`` go to its password and ACL files, meters' logins to the same password file
    (``registry.credentials``), picked up on :meth:`reload` (only a ``reloadable`` broker's).

    Mosquitto drops messages beyond ``max_queued_messages`` (1000 by default) for an offline
    persistent session without telling anyone; the bound here is raised far above any backlog the
    tests or the demo build, and kept finite so a forgotten session cannot eat the memory.
    """

    root: Path | None = None
    port: int = field(default_factory=free_port)
    max_queued_messages: int = 5_000_000
    # As docker/mosquitto.conf: payloads above 1 MiB are refused at publish.
    message_size_limit: int = 1024 * 1024
    accounts: list[ServiceAccount] = field(default_factory=broker_auth.default_accounts)
    topic_prefix: str = "wb"
    allow_anonymous: bool = False
    # False for a broker many clients share (the test session's): its settings name no password
    # or pid file, and :meth:`reload` refuses. A SIGHUP while an offline persistent session's
    # password has changed corrupts Mosquitto 2.0.11 (docs/deploy.md, "Securing the broker").
    reloadable: bool = True
    _owned_root: bool = field(default=False, init=False)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def config_file(self) -> Path:
        assert self.root is not None
        return self.root / "mosquitto.conf"

    @property
    def password_file(self) -> Path:
        return self.config_file.with_name("passwd")

    @property
    def acl_file(self) -> Path:
        return self.config_file.with_name("acl")

    @property
    def pid_file(self) -> Path:
        return self.config_file.with_name("mosquitto.pid")

    def settings(self, username: str) -> MqttSettings:
        """Client settings that log in as one of the service accounts."""
        account = next(account for account in self.accounts if account.username == username)
        return MqttSettings(
            port=self.port,
            username=account.username,
            password=SecretStr(account.password),
            topic_prefix=self.topic_prefix,
            password_file=str(self.password_file) if self.reloadable else None,
            broker_pid_file=str(self.pid_file) if self.reloadable else None,
        )

    def start(self) -> LocalMosquitto:
        self._make_root("waterbill-mqtt-")
        user = pwd.getpwuid(os.geteuid()).pw_name
        logins = {account.username: account.password for account in self.accounts}
        broker_auth.set_passwords(self.password_file, logins)
        broker_auth.write_acl_file(self.acl_file, self.topic_prefix, self.accounts)
        self.config_file.write_text(
            "\n".join(
                [
                    f"listener {self.port} 127.0.0.1",
                    f"allow_anonymous {str(self.allow_anonymous).lower()}",
                    f"password_file {self.password_file}",
                    f"acl_file {self.acl_file}",
                    f"pid_file {self.pid_file}",
                    # Stay the invoking user instead of dropping to `mosquitto`, who could not
                    # write the persistence file into our directory.
                    f"user {user}",
                    "persistence true",
                    f"persistence_location {self.root}/",
                    "autosave_interval 1",
                    f"max_queued_messages {self.max_queued_messages}",
                    "max_queued_bytes 0",
                    "max_inflight_messages 0",
                    f"message_size_limit {self.message_size_limit}",
                    "set_tcp_nodelay true",
                    "log_dest stderr",
                    "log_type error",
                    "log_type warning",
                    "",
                ]
            )
        )
        log = open(self.log_file, "ab")
        self._process = subprocess.Popen(
            [str(MOSQUITTO_BIN), "-c", str(self.config_file)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        wait_for(lambda: broker_auth.broker_answers(self.port), "Mosquitto", 15, self._process)
        logger.info("Mosquitto listening on 127.0.0.1:%d", self.port)
        return self

    @property
    def log_file(self) -> Path:
        return self.config_file.with_name("mosquitto.log")

    def check_alive(self) -> None:
        """Raise, naming the exit and the log's tail, if the broker is no longer running.

        Raises:
            ServiceError: the broker was started and has exited since.
        """
        if self._process is not None and self._process.poll() is not None:
            raise ServiceError(self._exit_report("died"))

    def _exit_report(self, what: str) -> str:
        assert self._process is not None
        assert self._process.returncode is not None
        code = self._process.returncode
        cause = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        tail = self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
        return f"Mosquitto on port {self.port} {what} ({cause}); its log, {self.log_file}:\n{tail}"

    def reload(self) -> None:
        """Make the broker re-read its password and ACL files (SIGHUP).

        Raises:
            ServiceError: the broker is not ``reloadable``.
        """
        if not self.reloadable:
            raise ServiceError("this broker is shared and never reloaded: start an own one")
        assert self._process is not None
        self._process.send_signal(signal.SIGHUP)

    def stop(self, kill: bool = False) -> None:
        """Stop the broker; a clean stop saves its persistence file, ``kill=True`` does not.

        Raises:
            ServiceError: the broker had died, or crashed while stopping (its log is kept).
        """
        if self._process is None:
            return
        process, died = self._process, self._process.poll() is not None
        if not died:
            process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            process.wait(timeout=15)
        try:
            if died or (not kill and process.returncode != 0):
                raise ServiceError(self._exit_report("had died" if died else "crashed on stop"))
        finally:
            self._process = None

    def restart(self, kill: bool = False) -> None:
        self.stop(kill=kill)
        self.start()
