"""``waterbill analyze``: run the incremental anomaly scan once, in one transaction."""

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
    """Detect anomalies in new data and open, update or resolve incidents."""
    from analytics import service

    since_at = _aware(since)
    settings = get_settings()
    try:
        with psycopg.connect(settings.database_url) as conn, conn.transaction():
            report = service.scan(
                conn,
                now=datetime.now(UTC),
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
