"""The ingest worker's MQTT transports compared, plain and TLS, against raw COPY in the same run.

Run: ``.venv/bin/python -m bench.ingest_transports`` (starts its own durable PostgreSQL and a
Mosquitto with a TLS listener signed by a throwaway CA).

For each transport (``aiomqtt``, the default, and ``native``, the hand-written MQTT 5 client) and
each listener (plain, TLS), a backlog of single-reading messages is queued in a fresh persistent
session while the worker is offline, then one worker drains it, timed from its subscription to
the last row committed. The scenarios run in turn, so the machine's load
moves them alike; raw binary COPY is measured before and after, and their mean is the baseline.
On a shared machine the rates are indicative (the load average is printed); the worker's CPU time
per reading moves much less.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import uuid
from pathlib import Path

import psycopg
from pydantic import SecretStr

from bench.ingest import (
    METERS,
    CpuMeter,
    IngestProcess,
    copy_baseline,
    prefill,
    reset,
    wait_count,
)
from core.broker_auth import INGEST_ACCOUNT, TEST_ACCOUNT
from core.config import Settings
from core.local_mosquitto import LocalMosquitto, TlsListener
from core.local_services import LocalPostgres
from core.migrate import upgrade
from tests.broker import suite_broker
from tests.tls import make_pki

logger = logging.getLogger("bench.ingest_transports")

TRANSPORTS = ("native", "aiomqtt")


def drain(
    db: psycopg.Connection[object],
    url: str,
    broker: LocalMosquitto,
    client_id: str,
    workdir: Path,
    env: dict[str, str],
    *,
    messages: int,
    per_message: int,
    publishers: int,
    profile: Path | None,
    pids: tuple[int, int],
) -> tuple[float, float]:
    """Readings/s of one drain, and the worker's CPU µs per reading."""
    # A fresh persistent session per drain: an older one of the same protocol would hold the
    # backlogs of every drain since its own as well.
    client_id = f"{client_id}-{uuid.uuid4().hex[:6]}"
    first = IngestProcess(url, broker.port, client_id, workdir / "ingest.log", None, env)
    first.wait_subscribed()
    first.stop()
    reset(db)
    # The broker's ACL lets only logins publish and read (meters on their own topic).
    test = broker.settings(TEST_ACCOUNT)
    assert test.password is not None
    login = (TEST_ACCOUNT, test.password.get_secret_value())
    prefill(broker.port, messages, per_message, 0, publishers, login)
    readings = messages * per_message
    worker = IngestProcess(url, broker.port, client_id, workdir / "ingest.log", profile, env)
    # Timed from the subscription (as bench.ingest): the worker's start-up stays out, but what a
    # resumed session's broker sends before the SUBACK (up to the Receive Maximum in MQTT 5, the
    # whole backlog in 3.1.1) is read before it, so 3.1.1 drains look faster than they are.
    started = worker.wait_subscribed()
    meter = CpuMeter(None if profile else worker.process.pid, *pids)
    finished = wait_count(db, readings)
    cpu = meter.stop()
    worker.stop()
    return readings / (finished - started), 1e6 * cpu.get("worker", 0.0) / readings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000, help="backlog per scenario")
    parser.add_argument("--per-message", type=int, default=1, help="readings per message")
    parser.add_argument("--publishers", type=int, default=4, help="prefill processes")
    parser.add_argument("--rounds", type=int, default=1, help="scenarios repeated; medians")
    parser.add_argument(
        "--protocol", choices=["5", "3.1.1"], default="5", help="aiomqtt's MQTT version"
    )
    parser.add_argument("--profile", action="store_true", help="py-spy the drains (raw stacks)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    messages = args.messages - args.messages % args.publishers
    workdir = Path(tempfile.mkdtemp(prefix="waterbill-bench-transports-"))
    pki = make_pki(workdir / "pki")
    listener = TlsListener(pki.server_cert, pki.server_key, pki.ca)
    with (
        LocalPostgres(durable=True) as pg,
        suite_broker(tls_listeners=[listener]) as broker,
    ):
        url = pg.url("waterbill")
        upgrade(Settings(database_url=SecretStr(url)))
        pids = (pg._process.pid, broker._process.pid)  # type: ignore[union-attr]
        postgres_pid = pids[0]
        ingest = broker.settings(INGEST_ACCOUNT)
        assert ingest.password is not None
        login_env = {
            "WATERBILL_MQTT__USERNAME": INGEST_ACCOUNT,
            "WATERBILL_MQTT__PASSWORD": ingest.password.get_secret_value(),
        }
        tls_env = {
            "WATERBILL_MQTT__PORT": str(listener.port),
            "WATERBILL_MQTT__TLS": "true",
            "WATERBILL_MQTT__TLS_CA_FILE": str(pki.ca),
        }
        with psycopg.connect(url, autocommit=True) as db:
            db.execute(
                "INSERT INTO meter (serial, kind, installed_at)"
                " SELECT format('BENCH-%%s', lpad(n::text, 5, '0')), 'iot', '2020-01-01'"
                " FROM generate_series(0, %s) AS n",
                [METERS - 1],
            )
            client_id = f"bench-{uuid.uuid4().hex[:6]}"
            scenarios = {
                (transport, tls): {
                    **login_env,
                    "WATERBILL_INGEST__MQTT_TRANSPORT": transport,
                    "WATERBILL_MQTT__PROTOCOL": args.protocol if transport == "aiomqtt" else "5",
                    **(tls_env if tls else {}),
                }
                for transport in TRANSPORTS
                for tls in (False, True)
            }
            load = os.getloadavg()
            baselines = [copy_baseline(db, messages * args.per_message, 5000, postgres_pid, "")]
            rates: dict[tuple[str, bool], list[float]] = {key: [] for key in scenarios}
            cpus: dict[tuple[str, bool], list[float]] = {key: [] for key in scenarios}
            for _ in range(args.rounds):
                for (transport, tls), env in scenarios.items():
                    name = f"{transport}-{'tls' if tls else 'plain'}"
                    profile = workdir / f"{name}.txt" if args.profile else None
                    rate, cpu = drain(
                        db,
                        url,
                        broker,
                        client_id,
                        workdir,
                        env,
                        messages=messages,
                        per_message=args.per_message,
                        publishers=args.publishers,
                        profile=profile,
                        pids=pids,
                    )
                    rates[(transport, tls)].append(rate)
                    cpus[(transport, tls)].append(cpu)
                    logger.info("    %s: %.0f readings/s, worker %.1f us/reading", name, rate, cpu)
            baselines.append(copy_baseline(db, messages * args.per_message, 5000, postgres_pid, ""))
            load_after = os.getloadavg()
    baseline = statistics.mean(baselines)
    what = "single-reading" if args.per_message == 1 else f"{args.per_message}-reading"
    logger.info(
        "%d %s messages per drain, %d round(s); load average %.1f before, %.1f after"
        " (2 cores; shared: figures indicative)",
        messages,
        what,
        args.rounds,
        load[0],
        load_after[0],
    )
    logger.info("baseline: binary COPY, commit every 5000: %.0f rows/s", baseline)
    for tls in (False, True):
        native = statistics.median(rates[("native", tls)])
        for transport in TRANSPORTS:
            rate = statistics.median(rates[(transport, tls)])
            cpu = statistics.median(cpus[(transport, tls)])
            logger.info(
                "%-8s %-5s %8.0f readings/s  %3.0f%% of COPY  %4.2fx native"
                "  worker %5.1f us/reading",
                transport,
                "TLS" if tls else "plain",
                rate,
                100 * rate / baseline,
                rate / native,
                cpu,
            )
    if args.profile:
        logger.info("profiles (py-spy raw stacks) in %s", workdir)


if __name__ == "__main__":
    main()
