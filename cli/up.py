"""``waterbill up``: the local stack on embedded services, for a demo or a first look.

The database and broker keep their data under the state directory between runs; ingest, a job
worker, API and simulator run as child processes of this one, so Ctrl-C stops everything, in
reverse order.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import psycopg
from pydantic import SecretStr
from rich.console import Console

from cli.simulate import COUNTRY_TIMEZONES
from core import migrate
from core.broker_auth import API_ACCOUNT, INGEST_ACCOUNT
from core.config import Settings
from core.local_mosquitto import LocalMosquitto
from core.local_services import (
    PG_SYSTEM_USER,
    LocalPostgres,
    ServiceError,
    free_port,
    reachable_by,
)
from core.runtime_role import ensure_runtime_login, runtime_url

console = Console()

# Where the cluster lives when the postgres account cannot reach the state directory (a clone
# under /root, whose mode is 0700): one directory per state directory, so data is kept.
FALLBACK_PG_ROOT = Path("/var/lib/waterbill")
STATUS_EVERY_S = 5.0
# The login role the services run as (rows only, like a deployment's); the owner migrates.
RUNTIME_ROLE = "waterbill_runtime"
READY_TIMEOUT_S = 60.0
# Ctrl-C: the services get this long together to finish what they are doing, then are killed.
STOP_TIMEOUT_S = 20.0


def _child(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "cli", *args], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def _broker_login(broker: LocalMosquitto, account: str) -> dict[str, str]:
    """A service account's login, and the password file the simulator issues meter logins into."""
    mqtt = broker.settings(account)
    assert mqtt.password is not None
    return {
        "WATERBILL_MQTT__USERNAME": account,
        "WATERBILL_MQTT__PASSWORD": mqtt.password.get_secret_value(),
        "WATERBILL_MQTT__PASSWORD_FILE": str(broker.password_file),
        "WATERBILL_MQTT__BROKER_PID_FILE": str(broker.pid_file),
    }


@dataclass(frozen=True)
class Counters:
    """What the status line counts, each under its own name."""

    received: int  # readings ingest stored: meter_state's totals, which only ever grow
    estimates: int  # VEE estimates standing in for missing data (fall as real data replaces them)


def _counters(database_url: str) -> Counters:
    with psycopg.connect(database_url, connect_timeout=2) as conn:
        row = conn.execute(
            "SELECT (SELECT coalesce(sum(readings_total), 0) FROM meter_state),"
            " (SELECT count(*) FROM reading WHERE source = 'estimated')"
        ).fetchone()
    return Counters(int(row[0]), int(row[1])) if row else Counters(0, 0)


def _wait_until_subscribed(log: Path, ingest: subprocess.Popen[bytes]) -> bool:
    """Ingest's first subscription creates its broker session: readings published before it
    would be dropped by the broker, so the simulator waits for this line of ingest's log."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline and ingest.poll() is None:
        if log.exists() and " subscribed to shards " in log.read_text(errors="replace"):
            return True
        time.sleep(0.2)
    return False


def _wait_until_ready(api_port: int, children: dict[str, subprocess.Popen[bytes]]) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if any(child.poll() is not None for child in children.values()):
            return False
        try:
            if httpx.get(f"http://127.0.0.1:{api_port}/health/ready", timeout=2).is_success:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False


def demo_span(country_code: str, now: datetime) -> tuple[datetime, datetime]:
    """Local midnights opening last month's first day and today: the history the demo fleet
    replays before going live, so that a whole month can be billed from the first minute."""
    zone = ZoneInfo(COUNTRY_TIMEZONES.get(country_code, "UTC"))
    today = now.astimezone(zone).date()
    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)

    def midnight(day: date) -> datetime:
        return datetime.combine(day, clock_time(0), tzinfo=zone)

    return midnight(last_month), midnight(today)


def _write_env(path: Path, database_url: str, broker: LocalMosquitto, api_port: int) -> None:
    """What points the other `waterbill` commands at this stack (they default to the
    machine's own ports): `. .waterbill/env` in another shell."""
    path.write_text(
        f"export WATERBILL_DATABASE_URL='{database_url}'\n"
        f"export WATERBILL_MQTT__HOST=127.0.0.1\n"
        f"export WATERBILL_MQTT__PORT={broker.port}\n"
        f"export WATERBILL_API__PORT={api_port}\n"
    )
    path.chmod(0o600)


def postgres_root(state_dir: Path) -> Path:
    """The cluster's directory: inside the state directory unless the server user can't reach it."""
    wanted = state_dir / "postgres"
    if os.geteuid() != 0 or reachable_by(PG_SYSTEM_USER, state_dir):
        return wanted
    digest = hashlib.sha256(str(state_dir).encode()).hexdigest()[:12]
    FALLBACK_PG_ROOT.mkdir(mode=0o755, exist_ok=True)
    return FALLBACK_PG_ROOT / digest / "postgres"


def run_stack(*, meters: int, state_dir: str, api_port: int) -> int:
    root = Path(state_dir).resolve()
    logs = root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    pg_root = postgres_root(root)
    pg_root.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    pg = LocalPostgres(root=pg_root, port=free_port(), durable=True)
    broker = LocalMosquitto(root=root / "mosquitto", port=free_port())
    children: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def request_stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    # Ctrl-C too, explicitly: a process started from a background shell job inherits SIGINT
    # ignored, and Python then never raises KeyboardInterrupt (seen: up ran on for 75 s after it).
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, request_stop)
    try:
        with console.status("starting PostgreSQL/TimescaleDB and Mosquitto"):
            pg.start()
            broker.start()
        database_url = pg.url("waterbill")
        owner = SecretStr(database_url)
        settings = Settings(database_url=owner, migration_database_url=owner)
        migrate.upgrade(settings)
        # A new password each start (the local server trusts loopback, a copied setup may not).
        password = secrets.token_hex(16)
        ensure_runtime_login(database_url, RUNTIME_ROLE, password)
        env = {
            **{k: v for k, v in os.environ.items() if k != "WATERBILL_MIGRATION_DATABASE_URL"},
            "WATERBILL_DATABASE_URL": runtime_url(database_url, RUNTIME_ROLE, password),
            "WATERBILL_MQTT__HOST": "127.0.0.1",
            "WATERBILL_MQTT__PORT": str(broker.port),
            "WATERBILL_API__PORT": str(api_port),
            **_broker_login(broker, INGEST_ACCOUNT),
        }
        ingest_log = logs / "ingest.log"
        ingest_log.unlink(missing_ok=True)
        children["ingest"] = _child(["ingest"], env, ingest_log)
        # One worker runs the schedule: rollups, the scan, alerts, billing days, payment polls.
        children["worker"] = _child(["worker"], env, logs / "worker.log")
        api_env = {**env, **_broker_login(broker, API_ACCOUNT)}
        children["api"] = _child(["api", "--port", str(api_port)], api_env, logs / "api.log")
        with console.status("waiting for ingest to subscribe and the API to be ready"):
            ready = _wait_until_subscribed(ingest_log, children["ingest"]) and _wait_until_ready(
                api_port, children
            )
        first, today = demo_span(settings.default_country, datetime.now(UTC))
        history_days = (today.date() - first.date()).days
        fleet = ["simulate", "--meters", str(meters), "--register"]
        if ready:
            children["history"] = _child(
                [*fleet, "--start", first.isoformat(), "--days", str(history_days)]
                + ["--interval", "3600", "--batch", "24"],
                env,
                logs / "simulator.log",
            )
        if not ready:
            console.print(f"[red]the stack did not become ready; see the logs in {logs}")
            return 1
        console.print(
            f"[bold]WaterBill is up[/bold]\n"
            f"  dashboard    http://127.0.0.1:{api_port}/operator  (sign in as an admin)\n"
            f"  sign-in      http://127.0.0.1:{api_port}/signin\n"
            f"  API docs     http://127.0.0.1:{api_port}/docs\n"
            f"  health       http://127.0.0.1:{api_port}/health/ready\n"
            f"  database     {database_url}  (owner: migrations, admin commands;"
            f" the services run as {RUNTIME_ROLE})\n"
            f"  data         {pg_root}\n"
            f"  MQTT broker  mqtt://127.0.0.1:{broker.port}\n"
            f"  logs         {logs}\n"
            f"The fleet replays {first:%Y-%m-%d} to {today:%Y-%m-%d} (a month to bill), then"
            " reports live.\n"
            "Other waterbill commands against this stack, from another shell:\n"
            f"  . {root / 'env'}\n"
            "  .venv/bin/waterbill users create-admin --phone '+237 6 58 55 22 94'\n"
            "Ctrl-C stops everything."
        )
        _write_env(root / "env", database_url, broker, api_port)
        before, since = _counters(env["WATERBILL_DATABASE_URL"]).received, time.monotonic()
        while not stopping:
            time.sleep(STATUS_EVERY_S)
            if children["history"].poll() == 0 and "simulator" not in children:
                console.print(f"history to {today:%Y-%m-%d} published; the fleet goes live")
                children["simulator"] = _child(
                    [*fleet, "--realtime", "--start", today.isoformat(), "--speed", "3600"],
                    env,
                    logs / "simulator.log",
                )
            for name, child in children.items():
                code = child.poll()
                if code is not None and not (name == "history" and code == 0):
                    console.print(f"[red]{name} exited ({child.returncode}); see {logs}")
                    return 1
            counters, now = _counters(env["WATERBILL_DATABASE_URL"]), time.monotonic()
            rate = (counters.received - before) / (now - since)
            console.print(
                f"readings received: {counters.received:,}  (+{rate:,.0f}/s);"
                f" estimates in place: {counters.estimates:,}"
            )
            before, since = counters.received, now
    finally:
        for child in reversed(children.values()):
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        # One deadline for all of them (they stop side by side), not one per child in turn.
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for child in reversed(children.values()):
            try:
                child.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        try:
            broker.stop()
        except ServiceError as exc:  # it crashed: say so, and still stop the database
            console.print(f"[red]{exc}")
        pg.stop()
        console.print("stopped")
    return 0
