"""Real `waterbill worker` processes for tests: environment, start/stop, polling with deadlines."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from core.config_jobs import JobsSettings

DEADLINE_S = 90.0
# 29 February at midnight: never within a test, and (with catch_up_s=0) never caught up on.
NEVER = "0 0 29 2 *"
CRONS = [name for name in JobsSettings.model_fields if name.endswith("_cron")]

StartWorker = Callable[[dict[str, str]], "subprocess.Popen[bytes]"]


def worker_env(database_url: str, **jobs: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATERBILL_")}
    env.update(WATERBILL_DATABASE_URL=database_url, WATERBILL_LOG_LEVEL="INFO")
    env.update({f"WATERBILL_JOBS__{name.upper()}": value for name, value in jobs.items()})
    return env


def quiet_worker_env(database_url: str, **jobs: str) -> dict[str, str]:
    """A worker that runs only what is deferred to it: no schedule fires during a test."""
    quiet = dict.fromkeys(CRONS, NEVER) | {"catch_up_s": "0"}
    return worker_env(database_url, **(quiet | jobs))


def read_logs(tmp_path: Path) -> Callable[[], str]:
    return lambda: "\n".join(p.read_text(errors="replace") for p in tmp_path.glob("*.log"))


def wait_for(check: Callable[[], bool], what: str, logs: Callable[[], str]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n{logs()}"
        time.sleep(0.2)


async def wait_for_async(
    check: Callable[[], Awaitable[bool]], what: str, logs: Callable[[], str]
) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n{logs()}"
        await asyncio.sleep(0.2)


def workers(tmp_path: Path) -> Iterator[StartWorker]:
    """Start workers; at the end each gets SIGTERM and must exit 0 (running jobs finish first),
    except those the test killed itself."""
    started: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str]) -> subprocess.Popen[bytes]:
        path = tmp_path / f"worker-{len(started)}.log"
        log = path.open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        started.append(process)
        # Running, its signal handlers installed: a SIGTERM from now on stops it cleanly.
        wait_for(
            lambda: process.poll() is not None or "Starting worker" in path.read_text(),
            "the worker to start",
            read_logs(tmp_path),
        )
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in started:
        if process.returncode == -signal.SIGKILL:
            continue  # killed by the test itself
        try:
            code = process.wait(timeout=30)
            assert code == 0, f"the worker exited {code} on SIGTERM\n{read_logs(tmp_path)()}"
        except subprocess.TimeoutExpired:
            process.kill()
            raise


def _no_logs() -> str:
    return "(the worker logs are in the test's tmp_path)"


async def wait_for_jobs(
    client: httpx.AsyncClient, ids: list[int], logs: Callable[[], str] = _no_logs
) -> list[dict[str, Any]]:
    """Poll each job to its success (a worker must run); returns them as ``GET /jobs/{id}``."""
    jobs: list[dict[str, Any]] = []

    async def done() -> bool:
        jobs[:] = [(await client.get(f"/jobs/{job_id}")).json() for job_id in ids]
        assert not [job for job in jobs if job["status"] == "failed"], jobs
        return all(job["status"] == "succeeded" for job in jobs)

    await wait_for_async(done, f"jobs {ids} to succeed", logs)
    return jobs


async def close_and_wait(
    client: httpx.AsyncClient, logs: Callable[[], str] = _no_logs, **body: Any
) -> list[dict[str, Any]]:
    """``POST /billing/close`` as ``body`` says, then poll each queued job to its success."""
    answer = await client.post("/billing/close", json=body)
    assert answer.status_code == 202, answer.text
    return await wait_for_jobs(client, [job["job_id"] for job in answer.json()["jobs"]], logs)


async def issue_and_wait(
    client: httpx.AsyncClient, logs: Callable[[], str] = _no_logs, **body: Any
) -> list[dict[str, Any]]:
    """``POST /billing/issue`` as ``body`` says, then poll each queued job to its success."""
    answer = await client.post("/billing/issue", json=body)
    assert answer.status_code == 202, answer.text
    return await wait_for_jobs(client, [job["job_id"] for job in answer.json()["jobs"]], logs)
