"""Ingest throughput and latency, against a baseline measured in the same run.

Run: ``.venv/bin/python bench/ingest.py`` (starts its own durable PostgreSQL and Mosquitto).

1. raw binary COPY into the reading hypertable, committing every batch (the ceiling; taken
   again right before 3, as the load of a shared machine moves);
2. end to end, a backlog of single-reading messages drained by one worker;
3. the same with batch payloads of 96 readings per message;
4. publish-to-committed latency at a fixed moderate rate.

Backlogs are prefilled by several publisher processes while the worker is offline (its
persistent session queues them), then the worker is started and the drain is timed from its
subscription to the last row committed. Each publisher owns a share of the meters, so every
meter's readings arrive in time order, as they do from real meters. Each drain also prints the
CPU time the worker, PostgreSQL and Mosquitto spent per reading (from /proc): on a busy machine
the rates move with the load, the CPU costs much less.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.config import Settings  # noqa: E402
from core.local_mosquitto import LocalMosquitto  # noqa: E402
from core.local_services import LocalPostgres  # noqa: E402
from core.migrate import upgrade  # noqa: E402
from wire.topics import uplink_topic  # noqa: E402

logger = logging.getLogger("bench.ingest")

METERS = 2000
T0 = datetime(2026, 1, 1, tzinfo=UTC)
COUNT = "SELECT coalesce(sum(readings_total), 0) FROM meter_state"


def serial(n: int) -> str:
    return f"BENCH-{n:05d}"


def publish_backlog(
    port: int,
    start: int,
    total: int,
    every: int,
    per_message: int,
    first_step: int,
    login: tuple[str, str] | None = None,
) -> None:
    """One publisher process: messages ``start``, ``start + every``, ... below ``total``.

    Message k is for meter ``k % METERS``, so with ``every`` dividing METERS each publisher has
    its own meters and sends each meter's readings in time order, as meters do.
    """
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"bench-pub-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv5,
    )
    if login is not None:
        client.username_pw_set(*login)
    client.max_inflight_messages_set(2000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    info = None
    for k in range(start, total, every):
        meter = k % METERS
        step = first_step + (k // METERS) * per_message
        readings = [
            {"time": (T0 + timedelta(minutes=15 * (step + i))).isoformat(), "index_l": step + i}
            for i in range(per_message)
        ]
        body = readings[0] if per_message == 1 else {"readings": readings}
        info = client.publish(uplink_topic("wb", 16, serial(meter)), orjson.dumps(body), qos=1)
    if info is not None:
        info.wait_for_publish(120)
    while client._out_messages:  # every PUBACK in (paho has no public call for this)
        time.sleep(0.05)
    client.loop_stop()
    client.disconnect()


def prefill(
    port: int,
    messages: int,
    per_message: int,
    first_step: int,
    processes: int,
    login: tuple[str, str] | None = None,
) -> float:
    assert METERS % processes == 0, "each publisher sends whole meters"
    started = time.perf_counter()
    workers = [
        multiprocessing.Process(
            target=publish_backlog,
            args=(port, i, messages, processes, per_message, first_step, login),
        )
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return messages / (time.perf_counter() - started)


class IngestProcess:
    def __init__(
        self,
        url: str,
        port: int,
        client_id: str,
        log: Path,
        profile: Path | None,
        extra_env: dict[str, str] | None = None,
    ):
        env = {
            **os.environ,
            "WATERBILL_DATABASE_URL": url,
            "WATERBILL_MQTT__PORT": str(port),
            "WATERBILL_INGEST__CLIENT_ID": client_id,
            "WATERBILL_LOG_LEVEL": "INFO",
            **(extra_env or {}),
        }
        command = [sys.executable, "-m", "cli", "ingest"]
        if profile is not None:
            spy = Path(sys.executable).with_name("py-spy")
            command = [str(spy), "record", "--format", "raw", "-o", str(profile), "--", *command]
        self.log = log
        self.profiled = profile is not None
        with log.open("ab") as out:
            self.process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=out)
        self.seen = log.read_text().count("subscribed to shards") if log.exists() else 0

    def wait_subscribed(self) -> float:
        while self.log.read_text().count("subscribed to shards") <= self.seen:
            if self.process.poll() is not None:
                raise RuntimeError(self.log.read_text()[-2000:])
            time.sleep(0.01)
        return time.perf_counter()

    def stop(self) -> None:
        self.process.send_signal(
            # py-spy writes its profile when interrupted, and passes the signal on.
            signal.SIGINT if self.profiled else signal.SIGTERM
        )
        self.process.wait(60)


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """CPU time of a process (and, with ``children``, of its live and reaped children)."""

    def times(proc: int) -> list[int]:
        stat = Path(f"/proc/{proc}/stat").read_text()
        return [int(field) for field in stat.rsplit(")", 1)[1].split()[11:15]]

    utime, stime, cutime, cstime = times(pid)
    total = utime + stime
    if children:
        total += cutime + cstime
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                    if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                        total += sum(times(int(entry.name))[:2])
                except (OSError, ValueError):
                    continue
    return total / TICK


class CpuMeter:
    """CPU seconds spent by the worker, PostgreSQL and Mosquitto between start and stop."""

    def __init__(self, worker: int | None, postgres: int, broker: int) -> None:
        self.pids = {
            "worker": (worker, False),
            "postgres": (postgres, True),
            "broker": (broker, False),
        }
        self.started = self._sample()

    def _sample(self) -> dict[str, float]:
        return {
            name: cpu_seconds(pid, children=children)
            for name, (pid, children) in self.pids.items()
            if pid is not None
        }

    def stop(self) -> dict[str, float]:
        ended = self._sample()
        return {name: ended[name] - self.started[name] for name in ended}


def wait_count(db: psycopg.Connection[Any], target: int, timeout: float = 600) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db.execute(COUNT).fetchone()[0] >= target:  # type: ignore[index]
            return time.perf_counter()
        time.sleep(0.02)
    raise RuntimeError(f"{target} readings not stored in {timeout} s")


def reset(db: psycopg.Connection[Any]) -> None:
    db.execute("TRUNCATE reading, meter_state, rollup_pending, quarantine")


def copy_baseline(
    db: psycopg.Connection[Any], rows: int, batch: int, postgres: int, label: str
) -> float:
    """Binary COPY straight into the hypertable, committing every ``batch`` rows."""
    rate, cpu = _copy_baseline(db, rows, batch, postgres)
    logger.info(
        "%s binary COPY into the hypertable, commit every %d: %.0f rows/s"
        " (CPU per row: postgres %.1f us)",
        label,
        batch,
        rate,
        1e6 * cpu / rows,
    )
    return rate


def _copy_baseline(
    db: psycopg.Connection[Any], rows: int, batch: int, postgres: int
) -> tuple[float, float]:
    reset(db)
    data = [
        (1 + k % METERS, T0 + timedelta(minutes=15 * (k // METERS)), k, None, None, None, 0)
        for k in range(rows)
    ]
    cpu = cpu_seconds(postgres, children=True)
    started = time.perf_counter()
    for offset in range(0, rows, batch):
        with db.transaction(), db.cursor() as cur:
            with cur.copy(
                "COPY reading (meter_id, time, source, index_l, flow_lph, battery_pct,"
                " signal_dbm, alarms) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(
                    ["int4", "timestamptz", "text", "int8", "float8", "int2", "int2", "int2"]
                )
                for m, t, i, f, b, s, a in data[offset : offset + batch]:
                    copy.write_row((m, t, "iot", i, f, b, s, a))
    return rows / (time.perf_counter() - started), cpu_seconds(postgres, children=True) - cpu


def drain(
    args: argparse.Namespace,
    db: psycopg.Connection[Any],
    url: str,
    port: int,
    client_id: str,
    workdir: Path,
    *,
    per_message: int,
    messages: int,
    step: int,
    name: str,
    pids: tuple[int, int],
) -> tuple[float, float]:
    reset(db)
    messages -= messages % args.publishers
    rate = prefill(port, messages, per_message, step, args.publishers)
    readings = messages * per_message
    profile = workdir / f"{name}.txt" if args.profile else None
    worker = IngestProcess(url, port, client_id, workdir / "ingest.log", profile)
    started = worker.wait_subscribed()
    meter = CpuMeter(None if args.profile else worker.process.pid, *pids)
    finished = wait_count(db, readings)
    cpu = meter.stop()
    worker.stop()
    logger.info(
        "    CPU per reading: %s",
        ", ".join(f"{name} {1e6 * seconds / readings:.1f} us" for name, seconds in cpu.items()),
    )
    return readings / (finished - started), rate


def latency(
    db: psycopg.Connection[Any],
    url: str,
    port: int,
    client_id: str,
    workdir: Path,
    *,
    rate: int,
    seconds: float,
) -> list[float]:
    """Publish at ``rate`` from a thread; poll committed rows by device time (= publish time).

    The latency of a row is the poll time minus its device time, so it overstates by up to the
    poll period (5 ms).
    """
    reset(db)
    worker = IngestProcess(url, port, client_id, workdir / "ingest.log", None)
    worker.wait_subscribed()
    total = int(rate * seconds)

    def publish() -> None:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="bench-lat", protocol=mqtt.MQTTv5
        )
        client.connect("127.0.0.1", port)
        client.loop_start()
        start = last = time.time()
        for k in range(total):
            time.sleep(max(0.0, start + k / rate - time.time()))
            last = max(time.time(), last + 1e-6)
            body = {"time": datetime.fromtimestamp(last, UTC).isoformat(), "index_l": k // 50}
            client.publish(uplink_topic("wb", 16, serial(k % 50)), orjson.dumps(body), qos=1)
        time.sleep(1)
        client.loop_stop()
        client.disconnect()

    publisher = threading.Thread(target=publish)
    publisher.start()
    latencies: list[float] = []
    watermark = datetime.fromtimestamp(0, UTC)
    deadline = time.monotonic() + seconds + 30
    while len(latencies) < total and time.monotonic() < deadline:
        rows = db.execute(
            "SELECT time FROM reading WHERE time > %s ORDER BY time", [watermark]
        ).fetchall()
        now = time.time()
        latencies.extend(now - stamp.timestamp() for (stamp,) in rows)
        if rows:
            watermark = rows[-1][0]
        time.sleep(0.005)
    publisher.join()
    worker.stop()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000, help="single-reading backlog")
    parser.add_argument("--publishers", type=int, default=4, help="prefill processes")
    parser.add_argument("--rate", type=int, default=2000, help="latency run, messages/s")
    parser.add_argument("--profile", action="store_true", help="py-spy the drains (raw stacks)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    workdir = Path(tempfile.mkdtemp(prefix="waterbill-bench-"))
    with LocalPostgres(durable=True) as pg, LocalMosquitto(allow_anonymous=True) as broker:
        url = pg.url("waterbill")
        upgrade(Settings(database_url=SecretStr(url)))
        with psycopg.connect(url, autocommit=True) as db:
            db.execute(
                "INSERT INTO meter (serial, kind, installed_at)"
                " SELECT format('BENCH-%%s', lpad(n::text, 5, '0')), 'iot', '2020-01-01'"
                " FROM generate_series(0, %s) AS n",
                [METERS - 1],
            )
            client_id = f"bench-{uuid.uuid4().hex[:6]}"
            pids = (pg._process.pid, broker._process.pid)  # type: ignore[union-attr]
            # A first connection creates the persistent session that queues the backlogs.
            first = IngestProcess(url, broker.port, client_id, workdir / "ingest.log", None)
            first.wait_subscribed()
            first.stop()

            # The machine may be shared: the baseline is taken again right before (3).
            baseline = copy_baseline(db, args.messages, 5000, pids[0], "(1)")
            single, pub = drain(
                args,
                db,
                url,
                broker.port,
                client_id,
                workdir,
                per_message=1,
                messages=args.messages,
                step=0,
                name="single",
                pids=pids,
            )
            logger.info("    prefill: %.0f msg/s from %d publishers", pub, args.publishers)
            logger.info(
                "(2) single-reading messages, one worker: %.0f readings/s (%.0f%% of COPY)",
                single,
                100 * single / baseline,
            )
            baseline = copy_baseline(db, args.messages, 5000, pids[0], "(1) again:")
            batches = -(-args.messages // 96)
            batched, _ = drain(
                args,
                db,
                url,
                broker.port,
                client_id,
                workdir,
                per_message=96,
                messages=batches,
                step=0,
                name="batch96",
                pids=pids,
            )
            logger.info(
                "(3) 96-reading messages, one worker: %.0f readings/s (%.0f%% of COPY)",
                batched,
                100 * batched / baseline,
            )
            lat = sorted(
                latency(db, url, broker.port, client_id, workdir, rate=args.rate, seconds=10)
            )
            p50 = statistics.median(lat)
            p99 = lat[int(len(lat) * 0.99) - 1]
            logger.info(
                "(4) publish-to-committed at %d msg/s: p50 %.0f ms, p99 %.0f ms (%d readings)",
                args.rate,
                p50 * 1000,
                p99 * 1000,
                len(lat),
            )
            if args.profile:
                logger.info("profiles (py-spy raw stacks) in %s", workdir)


if __name__ == "__main__":
    main()
