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

logger = logging.getLogger(__name__)

PG_BIN = Path("/usr/lib/postgresql/15/bin")
# initdb refuses to run as root; the Debian package always creates this account.
PG_SYSTEM_USER = "postgres"


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
