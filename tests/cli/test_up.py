"""`waterbill up` as a new user runs it: the whole stack in child processes, readings arriving."""

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from cli.up import FALLBACK_PG_ROOT, postgres_root
from core.local_services import free_port

pytestmark = [pytest.mark.services, pytest.mark.slow]


def _lines(process: subprocess.Popen[str]) -> tuple[queue.Queue[str], threading.Thread]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return lines, thread


class TestUp:
    def test_brings_the_stack_up_shows_readings_and_stops_cleanly(self, tmp_path):
        api_port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("WATERBILL_")}
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "up", "--meters", "20"]
            + ["--state-dir", str(tmp_path / "state"), "--api-port", str(api_port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**env, "COLUMNS": "200"},
        )
        lines, pump = _lines(process)
        seen: list[str] = []
        stored = 0
        deadline = time.monotonic() + 120
        try:
            while stored == 0 and time.monotonic() < deadline:
                try:
                    line = lines.get(timeout=1)
                except queue.Empty:
                    assert process.poll() is None, "".join(seen)
                    continue
                seen.append(line)
                match = re.search(r"readings stored: ([\d,]+)", line)
                if match:
                    stored = int(match.group(1).replace(",", ""))
            output = "".join(seen)
            assert stored > 0, output
            assert f"http://127.0.0.1:{api_port}/docs" in output
            ready = httpx.get(f"http://127.0.0.1:{api_port}/health/ready", timeout=5)
            assert ready.status_code == 200
            assert f"http://127.0.0.1:{api_port}/operator" in output
            dashboard = httpx.get(f"http://127.0.0.1:{api_port}/operator", timeout=5)
            assert dashboard.status_code == 200
            assert "text/html" in dashboard.headers["content-type"]
        finally:
            process.send_signal(signal.SIGINT)
            code = process.wait(timeout=60)
            pump.join(timeout=10)
            assert process.stdout is not None
            process.stdout.close()
        assert code == 0
        pg_root = postgres_root((tmp_path / "state").resolve())
        assert not (pg_root / "pgdata" / "postmaster.pid").exists()
        if pg_root.is_relative_to(FALLBACK_PG_ROOT):
            shutil.rmtree(pg_root.parent)
