"""``waterbill simulate``: a fleet of virtual meters publishing over MQTT.

Three modes: backfill (history as fast as possible, then exit), ``--realtime`` (replay the
recent past at ``--speed``, then live; runs until stopped) and load (``--rate``/``--backlog``,
several publisher processes, achieved rates printed).
"""

from __future__ import annotations

import asyncio
import json
import math
import signal
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.console import Console

from core.config import Settings, get_settings
from core.exceptions import InvalidInput

if TYPE_CHECKING:
    from simulators.fleet import Fleet, FleetConfig
    from simulators.publisher import PublishStats, StreamPlan

console = Console()

# Time zones of the countries seeded in the `country` table, for the demo zone's local days.
COUNTRY_TIMEZONES = {"PG": "Pacific/Port_Moresby", "CM": "Africa/Douala", "FR": "Europe/Paris"}
BACKFILL_INTERVAL_S = 3600
# Live default: 200 meters every 5 minutes, spread over the interval, is a message every ~1.5 s.
REALTIME_INTERVAL_S = 300


async def _register(
    settings: Settings, fleet: Fleet, country: str, first: float
) -> tuple[str, Mapping[str, str]]:
    """Register the fleet, installed at the local midnight opening its first simulated day, and
    give the demo zone its country's demo tariff from that day, so its months can be billed."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from core.db import make_async_engine
    from simulators.demand import ANCHOR_DATE, SECONDS_PER_DAY
    from simulators.demo_tariffs import ensure_demo_tariff
    from simulators.registration import register_fleet

    installed_day = int((first - fleet.anchor_epoch()) // SECONDS_PER_DAY)
    offset = timedelta(seconds=fleet.config.utc_offset_s)
    engine = make_async_engine(settings)
    try:
        async with AsyncSession(engine) as session, session.begin():
            done = await register_fleet(
                session,
                fleet=fleet,
                country_code=country,
                installed_day=installed_day,
                mqtt=settings.mqtt,
            )
            tariff = await ensure_demo_tariff(
                session,
                country_code=country,
                zone_id=done.zone_id,
                effective_from=ANCHOR_DATE + timedelta(days=installed_day),
                at=datetime.now(UTC) + offset,
            )
            priced = (
                f"; demo tariff {tariff.currency} from {tariff.effective_from} added"
                if tariff is not None
                else ""
            )
    finally:
        await engine.dispose()
    return (
        f"registered: {done.meters_created} meters created, {done.meters_existing} existing;"
        f" {done.dwellings_created} dwellings and {done.buildings_created} buildings created;"
        f" {len(done.credentials)} broker logins issued{priced}"
    ), done.credentials


def _parse_start(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not an ISO 8601 date or time", param_hint="--start"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _report(stats: PublishStats) -> None:
    seconds = max(stats.seconds, 1e-9)
    console.print(
        f"published {stats.sent:,} messages ({stats.acked:,} acknowledged, {stats.readings:,}"
        f" readings) in {stats.seconds:.1f} s: {stats.acked / seconds:,.0f} msg/s,"
        f" {stats.readings / seconds:,.0f} readings/s"
        + (f", {stats.reconnects} reconnects" if stats.reconnects else "")
    )


def simulate(
    meters: Annotated[int, typer.Option(help="Number of virtual meters.")] = 200,
    interval: Annotated[
        int | None,
        typer.Option(
            help="Device reading interval in seconds (default 3600; 300 with --realtime)."
        ),
    ] = None,
    batch: Annotated[int, typer.Option(help="Readings per upload (e.g. 24 or 96).")] = 1,
    start: Annotated[
        str | None, typer.Option(help="First reading time, ISO 8601 (default: now - days).")
    ] = None,
    days: Annotated[float, typer.Option(help="Days of history to publish or replay.")] = 1.0,
    realtime: Annotated[bool, typer.Option(help="Replay to now at --speed, then go live.")] = False,
    speed: Annotated[
        float, typer.Option(help="Simulated seconds per real second while replaying.")
    ] = 360.0,
    duplicates: Annotated[float, typer.Option(help="Probability a message is sent twice.")] = 0.0,
    out_of_order: Annotated[
        float, typer.Option(help="Probability a message is delivered late.")
    ] = 0.0,
    reorder_window: Annotated[
        int, typer.Option(help="How many messages late a delayed one can be.")
    ] = 50,
    drift: Annotated[float, typer.Option(help="Max device clock offset, seconds.")] = 0.0,
    drift_ppm: Annotated[
        float, typer.Option(help="Max device clock drift, ppm since its daily sync.")
    ] = 0.0,
    register: Annotated[
        bool, typer.Option(help="Create demo dwellings and register the meters first.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same fleet.")] = 1,
    rate: Annotated[float | None, typer.Option(help="Load mode: messages per second.")] = None,
    backlog: Annotated[
        int | None, typer.Option(help="Load mode: publish this many messages, fast.")
    ] = None,
    publishers: Annotated[int, typer.Option(help="Publisher processes.")] = 1,
    digits: Annotated[int, typer.Option(help="Register digits (litres) before rollover.")] = 9,
    serial_prefix: Annotated[str, typer.Option(help="Serials are PREFIX-000001...")] = "SIM",
    country: Annotated[
        str | None, typer.Option(help="Country of the demo zone (default: the deployment's).")
    ] = None,
    anomalies: Annotated[
        int, typer.Option(help="Meters given an anomaly (leak, burst, stuck, ...).")
    ] = 0,
    labels: Annotated[
        Path | None, typer.Option(help="Write the anomalies' ground truth here (JSON lines).")
    ] = None,
) -> None:
    """Run virtual meters that publish readings to the MQTT broker."""
    # Imported here: numpy and paho are not needed by the other `waterbill` commands.
    from simulators.anomalies import Injection, label_records, plan_injection
    from simulators.demand import SECONDS_PER_DAY
    from simulators.fleet import Fleet, FleetConfig
    from simulators.load import LOAD_CONTEXT, run_load
    from simulators.publisher import PublisherJob, PublishError, run_stream

    settings = get_settings()
    country_code = (country or settings.default_country).upper()
    zone = ZoneInfo(COUNTRY_TIMEZONES.get(country_code, "UTC"))
    now = time.time()
    offset = zone.utcoffset(datetime.fromtimestamp(now, UTC).replace(tzinfo=None))
    load = rate is not None or backlog is not None
    if publishers < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--publishers")
    if load and realtime:
        raise typer.BadParameter("load mode (--rate/--backlog) does not run in --realtime")
    config = FleetConfig(
        meters=meters,
        seed=seed,
        interval_s=interval or (REALTIME_INTERVAL_S if realtime else BACKFILL_INTERVAL_S),
        batch=batch,
        serial_prefix=serial_prefix,
        register_digits=digits,
        utc_offset_s=int(offset.total_seconds()) if offset else 0,
        max_drift_s=drift,
        drift_ppm=drift_ppm,
        duplicate_p=duplicates,
        out_of_order_p=out_of_order,
        reorder_window=reorder_window,
        topic_prefix=settings.mqtt.topic_prefix,
        shards=settings.mqtt.shards,
    )
    try:
        config.check()
        plans = _plans(
            config,
            now=now,
            start=_parse_start(start),
            days=days,
            realtime=realtime,
            speed=speed,
            rate=rate,
            backlog=backlog,
            publishers=publishers,
        )
    except InvalidInput as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(2) from None
    injection = Injection()
    if anomalies:
        if anomalies > meters:
            console.print(f"[red]--anomalies {anomalies} is more than --meters {meters}")
            raise typer.Exit(2)
        first = plans[0].start
        last = plans[0].end if plans[0].end is not None else now + SECONDS_PER_DAY
        injection = plan_injection(
            meters=meters,
            count=anomalies,
            start=datetime.fromtimestamp(first, UTC),
            end=datetime.fromtimestamp(last, UTC),
            seed=seed,
            utc_offset_s=config.utc_offset_s,
        )
    if labels is not None:
        records = label_records(injection.labels, serial_prefix)
        labels.write_text("".join(json.dumps(r) + "\n" for r in records))
        console.print(f"{len(records)} anomaly labels written to {labels}")
    credentials: Mapping[str, str] = {}
    if register:
        message, credentials = asyncio.run(
            _register(settings, Fleet(config), country_code, plans[0].start)
        )
        console.print(message)

    jobs = [
        PublisherJob(
            fleet=config,
            plan=plan,
            mqtt=settings.mqtt,
            index=i,
            count=publishers,
            client_id=f"waterbill-sim-{serial_prefix}-{seed}",
            injection=injection,
            credentials=credentials,
        )
        for i, plan in enumerate(plans)
    ]
    stop: Any = LOAD_CONTEXT.Event() if publishers > 1 else threading.Event()

    def request_stop(*_: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    console.print(
        f"simulating {meters} meters ({config.interval_s} s readings, {batch} per upload) to"
        f" mqtt://{settings.mqtt.host}:{settings.mqtt.port} with {publishers} publisher(s)"
    )
    try:
        stats = run_stream(jobs[0], stop) if publishers == 1 else run_load(jobs, stop)
    except PublishError as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(1) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    _report(stats)


def _plans(
    config: FleetConfig,
    *,
    now: float,
    start: float | None,
    days: float,
    realtime: bool,
    speed: float,
    rate: float | None,
    backlog: int | None,
    publishers: int,
) -> list[StreamPlan]:
    """Each publisher's share of the work."""
    from simulators.demand import ANCHOR_DATE, SECONDS_PER_DAY
    from simulators.publisher import StreamPlan

    if days <= 0:
        raise InvalidInput("--days must be positive")
    if speed < 1:
        raise InvalidInput("--speed must be at least 1")
    if rate is not None and rate <= 0:
        raise InvalidInput("--rate must be positive")
    if backlog is not None and backlog < 1:
        raise InvalidInput("--backlog must be at least 1")
    if publishers > config.meters:
        raise InvalidInput("--publishers cannot exceed --meters")
    shares = [None] * publishers if backlog is None else _split(backlog, publishers)
    first = now - days * SECONDS_PER_DAY if start is None else start
    if backlog is not None and start is None:
        # Enough upload slots of history for the busiest publisher's share.
        per_publisher = config.meters // publishers
        slots = math.ceil(max(s or 0 for s in shares) / per_publisher) + 1
        first = now - slots * config.upload_period_s
    anchor = datetime(ANCHOR_DATE.year, ANCHOR_DATE.month, ANCHOR_DATE.day, tzinfo=UTC)
    if first < anchor.timestamp() + SECONDS_PER_DAY:
        raise InvalidInput(f"the simulation starts after {ANCHOR_DATE} (its anchor day)")
    if first > now:
        raise InvalidInput("--start is in the future")
    end = None if realtime else min(now, first + days * SECONDS_PER_DAY)
    if backlog is not None:
        end = now
    return [
        StreamPlan(
            start=first,
            end=end,
            realtime=realtime,
            speed=speed,
            max_messages=share,
            rate=None if rate is None else rate / publishers,
        )
        for share in shares
    ]


def _split(total: int, parts: int) -> list[int | None]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]
