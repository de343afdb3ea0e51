"""``waterbill analyze``: validate and estimate new readings (VEE), then run the incremental
anomaly scan once, optionally followed by the customer SMS alerts (the worker's `scan` and
`alerts` jobs run them on a schedule)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated

import psycopg
import typer
from rich.console import Console

from core.config import Settings, get_settings
from core.exceptions import AppError

console = Console()
logger = logging.getLogger(__name__)


def _aware(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 date-time") from exc
    if parsed.tzinfo is None:
        raise typer.BadParameter(f"{value!r} has no time zone (add Z or +10:00)")
    return parsed


def _scan_once(
    settings: Settings,
    *,
    meter: list[int] | None,
    since: datetime | None,
    alerts: bool,
    as_of: datetime | None = None,
) -> str:
    from analytics.alerts.service import run_alerts
    from analytics.anomalies import service as anomalies
    from analytics.vee import service as vee
    from core.notifications.service import RetryPolicy
    from core.sms import make_sms_provider

    now = as_of or datetime.now(UTC)
    with psycopg.connect(settings.dsn) as conn:
        with conn.transaction():
            checked = vee.run(
                conn,
                now=now,
                default_country=settings.default_country,
                meter_ids=meter or None,
                options=settings.vee,
            )
        # Its own short transactions, a batch of meters each, partition by partition.
        report = anomalies.scan(
            conn,
            as_of=now,
            default_country=settings.default_country,
            meter_ids=meter or None,
            since=since,
            options=settings.analytics,
        )
    line = (
        f"validated {checked.steps} readings of {checked.meters} meters:"
        f" {checked.flags} flags, {checked.estimates_written} estimates written,"
        f" {checked.estimates_replaced} replaced by actual readings; "
        f"scanned {report.meters} meters: {report.findings} findings, {report.opened} opened,"
        f" {report.updated} updated, {report.resolved} resolved"
    )
    if alerts:
        with psycopg.connect(settings.dsn, autocommit=True) as conn:
            sent = run_alerts(
                conn,
                provider=make_sms_provider(settings),
                policy=RetryPolicy.of(settings.sms),
                now=now,
                options=settings.alerts,
            )
        line += f"; alerts: {sent}"
    return line


def analyze(
    since: Annotated[
        str | None,
        typer.Option(
            help="Judge again from this instant (ISO 8601 with zone), not the watermarks."
        ),
    ] = None,
    meter: Annotated[
        list[int] | None, typer.Option(help="Scan this meter id only (repeatable).")
    ] = None,
    alerts: Annotated[
        bool, typer.Option(help="Then text customers about confirmed incidents.")
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option(
            help="Judge everything since the watermarks up to this instant (ISO 8601 with"
            " zone), nothing after it, e.g. to replay or backfill; default: now."
        ),
    ] = None,
) -> None:
    """Validate new readings, estimate gaps, then detect anomalies and open, update or resolve
    incidents."""
    since_at, as_of_at = _aware(since), _aware(as_of)
    try:
        console.print(
            _scan_once(get_settings(), meter=meter, since=since_at, alerts=alerts, as_of=as_of_at)
        )
    except AppError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from exc
