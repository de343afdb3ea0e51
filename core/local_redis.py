"""A throwaway Redis server (no persistence), for the API's shared throttling in tests."""

from __future__ import annotations

import os
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from core.local_services import LocalServer, free_port, wait_for

REDIS_BIN = Path("/usr/bin/redis-server")


def _port_open(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True


@dataclass
class LocalRedis(LocalServer):
    """A Redis server without persistence, for throttling shared between API processes."""

    root: Path | None = None
    port: int = field(default_factory=free_port)
    _owned_root: bool = field(default=False, init=False)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> LocalRedis:
        directory = self._make_root("waterbill-redis-")
        self._process = subprocess.Popen(
            [
                str(REDIS_BIN),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            # libfaketime (scripts/test-clock) hangs Redis as it starts (its allocator's
            # clock_gettime recursion): Redis keeps the real clock, which only times key expiry.
            env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD"},
        )
        try:
            wait_for(lambda: _port_open(self.port), "Redis", 15, self._process)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=15)
        self._process = None
