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
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import psycopg
import pytest

from cli.up import FALLBACK_PG_ROOT, Counters, _counters, demo_span, postgres_root
from core.local_services import free_port
from core.money import get_currency

pytestmark = [pytest.mark.services, pytest.mark.slow]

T0 = datetime(2026, 3, 2, tzinfo=UTC)
HOUR = timedelta(hours=1)
# `up` bounds its own stop: 20 s for its services together (STOP_TIMEOUT_S), 15 s for the broker,
# 30 s for PostgreSQL; a stop within those bounds must not fail the test on a loaded machine.
STOP_WAIT_S = 20 + 15 + 30 + 10


def _lines(process: subprocess.Popen[str]) -> tuple[queue.Queue[str], threading.Thread]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return lines, thread


def _exports(path: Path) -> dict[str, str]:
    """The variables of the env file `up` writes (`export NAME='value'` lines)."""
    found = re.findall(r"^export (\w+)='?([^'\n]*)'?$", path.read_text(), flags=re.M)
    return dict(found)


ADMIN_PHONE = "+237 6 58 55 22 94"
ADMIN_PASSWORD = "tide pool lantern 47 quartz"


def _pay_one_invoice(base: str) -> None:
    """As the README's admin: the issued invoices are listed, one prints as a PDF, and a cash
    payment of what it owes settles it."""
    with httpx.Client(base_url=base, timeout=30) as http:
        signed_in = http.post(
            "/auth/login", json={"phone": ADMIN_PHONE, "password": ADMIN_PASSWORD}
        )
        assert signed_in.status_code == 200, signed_in.text
        http.headers["Authorization"] = f"Bearer {signed_in.json()['access_token']}"
        invoices = http.get("/invoices").json()
        assert len(invoices) == 20
        assert {i["status"] for i in invoices} == {"issued"}
        first = invoices[0]
        pdf = http.get(f"/invoices/{first['id']}/pdf")
        assert pdf.status_code == 200
        assert pdf.content.startswith(b"%PDF")
        owed = Decimal(first["owed_minor"]).scaleb(-get_currency(first["currency"]).minor_units)
        paid = http.post(
            "/payments",
            json={"dwelling_id": first["dwelling_id"], "method": "cash", "amount": str(owed)},
        )
        assert paid.status_code == 201, paid.text
        assert http.get(f"/invoices/{first['id']}").json()["status"] == "paid"


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
        live = False
        deadline = time.monotonic() + 180
        try:
            while not (stored and live) and time.monotonic() < deadline:
                try:
                    line = lines.get(timeout=1)
                except queue.Empty:
                    assert process.poll() is None, "".join(seen)
                    continue
                seen.append(line)
                match = re.search(r"readings received: ([\d,]+)", line)
                if match:
                    stored = int(match.group(1).replace(",", ""))
                live = live or "the fleet goes live" in line
            output = "".join(seen)
            assert stored > 0, output
            assert live, output
            assert f"http://127.0.0.1:{api_port}/docs" in output
            ready = httpx.get(f"http://127.0.0.1:{api_port}/health/ready", timeout=5)
            assert ready.status_code == 200
            assert f"http://127.0.0.1:{api_port}/operator" in output
            dashboard = httpx.get(f"http://127.0.0.1:{api_port}/operator", timeout=5)
            assert dashboard.status_code == 200
            assert "text/html" in dashboard.headers["content-type"]
            # The printed URL is the owner's; ingest, the worker and the API run as the
            # runtime role (rows only), and that is who stored the readings above (the status
            # line reads as it too).
            owner = re.search(r"database\s+(postgresql://\S+)", output)
            assert owner is not None, output
            with psycopg.connect(owner.group(1)) as conn:
                users = conn.execute(
                    "SELECT DISTINCT usename FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    " AND backend_type = 'client backend'"
                ).fetchall()
            assert users == [("waterbill_runtime",)]
            # A newcomer bills last month from the README: the fleet replayed it, and the env
            # file points the other commands at this stack.
            month = re.search(r"The fleet replays (\d{4}-\d{2})-01 to", output)
            assert month is not None, output
            cli_env = {**env, **_exports(tmp_path / "state" / "env")}
            for args in (["rollup"], ["bill", "close", "--period", month.group(1)]):
                done = subprocess.run(
                    [sys.executable, "-m", "cli", *args],
                    env=cli_env,
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
                assert done.returncode == 0, done.stdout + done.stderr
            assert "20 dwellings, 20 drafts (0 subscription-only), 0 held" in done.stdout
            # ... issues it, and the invoices are there as PDFs, and payable.
            for args in (
                ["bill", "issue", "--period", month.group(1), "--force"],
                ["users", "create-admin", "--phone", ADMIN_PHONE, "--password", ADMIN_PASSWORD],
            ):
                done = subprocess.run(
                    [sys.executable, "-m", "cli", *args],
                    env=cli_env,
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
                assert done.returncode == 0, done.stdout + done.stderr
                if args[0] == "bill":
                    assert done.stdout.startswith("20 invoices issued"), done.stdout
            _pay_one_invoice(f"http://127.0.0.1:{api_port}")
        finally:
            process.send_signal(signal.SIGINT)
            try:
                code = process.wait(timeout=STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                pump.join(timeout=10)
                assert process.stdout is not None
                process.stdout.close()
                rest = "".join(lines.get_nowait() for _ in range(lines.qsize()))
                pytest.fail(f"up did not stop in {STOP_WAIT_S} s:\n{''.join(seen)}{rest}")
            pump.join(timeout=10)
            assert process.stdout is not None
            process.stdout.close()
        assert code == 0
        pg_root = postgres_root((tmp_path / "state").resolve())
        assert not (pg_root / "pgdata" / "postmaster.pid").exists()
        if pg_root.is_relative_to(FALLBACK_PG_ROOT):
            shutil.rmtree(pg_root.parent)


class TestCounters:
    def test_received_readings_never_go_back_when_estimates_are_replaced(self, db, database_url):
        meter = db.execute(
            "INSERT INTO meter (serial, kind, installed_at) VALUES ('UP-1', 'iot', %s)"
            " RETURNING id",
            [T0],
        ).fetchone()[0]
        db.execute(
            "INSERT INTO reading (meter_id, time, index_l, source) VALUES"
            " (%(m)s, %(t0)s, 0, 'iot'), (%(m)s, %(t1)s, 10, 'estimated'),"
            " (%(m)s, %(t2)s, 20, 'estimated')",
            {"m": meter, "t0": T0, "t1": T0 + HOUR, "t2": T0 + 2 * HOUR},
        )
        db.execute(
            "INSERT INTO meter_state (meter_id, last_time, last_index_l, last_received_at,"
            " readings_total) VALUES (%s, %s, 0, %s, 1)",
            [meter, T0, T0],
        )
        assert _counters(database_url) == Counters(received=1, estimates=2)
        # The real reading arrives; the VEE drops the estimate it replaces.
        db.execute(
            "INSERT INTO reading (meter_id, time, index_l, source) VALUES (%s, %s, 11, 'iot')",
            [meter, T0 + HOUR],
        )
        db.execute("UPDATE meter_state SET readings_total = readings_total + 1")
        db.execute("DELETE FROM reading WHERE source = 'estimated' AND time = %s", [T0 + HOUR])
        assert _counters(database_url) == Counters(received=2, estimates=1)


class TestDemoSpan:
    @pytest.mark.parametrize(
        ("country", "now", "first", "today"),
        [
            # 00:30 on New Year's Day in Douala (UTC+1) is still 31 December in UTC.
            ("CM", datetime(2026, 12, 31, 23, 30, tzinfo=UTC), "2026-12-01", "2027-01-01"),
            # 23:00 on 1 March in Port Moresby (UTC+10).
            ("PG", datetime(2026, 3, 1, 13, tzinfo=UTC), "2026-02-01", "2026-03-01"),
            ("PG", datetime(2026, 3, 1, 14, 30, tzinfo=UTC), "2026-02-01", "2026-03-02"),
        ],
    )
    def test_the_demo_replays_last_month_and_this_one_in_local_days(
        self, country, now, first, today
    ):
        start, end = demo_span(country, now)
        assert (start.isoformat()[:10], end.isoformat()[:10]) == (first, today)
        assert (start.hour, start.minute, end.hour, end.minute) == (0, 0, 0, 0)
        assert start.utcoffset() == end.utcoffset() == timedelta(hours=1 if country == "CM" else 10)
