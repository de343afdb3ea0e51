"""``waterbill analyze``: validate and estimate new readings (VEE), then run the incremental
anomaly scan, each in one transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import psycopg
import typer
from rich.console import Console

from core.config import get_settings
from core.exceptions import AppError

console = Console()


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


def analyze(
    since: Annotated[
        str | None,
        typer.Option(help="Scan meters with data after this instant (ISO 8601 with zone)."),
    ] = None,
    meter: Annotated[
        list[int] | None, typer.Option(help="Scan this meter id only (repeatable).")
    ] = None,
) -> None:
    """Validate new readings, estimate gaps, then detect anomalies and open, update or resolve
    incidents."""
    from analytics import service, vee

    since_at = _aware(since)
    settings = get_settings()
    now = datetime.now(UTC)
    try:
        with psycopg.connect(settings.database_url) as conn:
            with conn.transaction():
                checked = vee.run(conn, now=now, meter_ids=meter or None, options=settings.vee)
            console.print(
                f"validated {checked.steps} readings of {checked.meters} meters:"
                f" {checked.flags} flags, {checked.estimates_written} estimates written,"
                f" {checked.estimates_replaced} replaced by actual readings"
            )
            with conn.transaction():
                report = service.scan(
                    conn,
                    now=now,
                    meter_ids=meter or None,
                    since=since_at,
                    options=settings.analytics,
                )
    except AppError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from exc
    console.print(
        f"scanned {report.meters} meters: {report.findings} findings, {report.opened} opened,"
        f" {report.updated} updated, {report.resolved} resolved"
    )
