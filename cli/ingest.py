"""``waterbill ingest`` (the MQTT worker) and ``waterbill quarantine list|reprocess|discard``."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import psycopg
import typer
from rich.console import Console
from rich.table import Table

from core.config import Settings, get_settings
from ingest.repository import IngestRepository
from ingest.service import Limits

console = Console()
quarantine_app = typer.Typer(no_args_is_help=True, help="List, re-process or discard quarantine.")


def ingest(
    shards: Annotated[
        str | None,
        typer.Option(help="Shards to consume (`all`, `0-7`, `0,3,5-6`); default from settings."),
    ] = None,
) -> None:
    """Consume meter uplinks from MQTT into the database until SIGINT/SIGTERM."""
    from ingest.consumer import run
    from ingest.shards import parse_shards

    settings = get_settings()
    try:
        shard_list = parse_shards(shards or settings.ingest.shards, settings.mqtt.shards)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--shards") from exc
    asyncio.run(run(settings, shards=shard_list))


def limits_of(settings: Settings) -> Limits:
    return Limits.from_settings(settings)


async def _in_transaction(work: Any) -> Any:
    async with await psycopg.AsyncConnection.connect(get_settings().dsn) as conn:
        async with conn.transaction():
            return await work(IngestRepository(conn))


@quarantine_app.command("list")
def list_quarantine(
    reason: Annotated[list[str] | None, typer.Option(help="Only this reason (repeatable).")] = None,
    status: Annotated[str, typer.Option(help="open, reprocessed or discarded.")] = "open",
    limit: Annotated[int, typer.Option(help="Rows to show at most.")] = 50,
) -> None:
    """Quarantined messages with their reason, and counts by reason."""

    async def work(repo: IngestRepository) -> Any:
        rows = await repo.quarantined(reasons=reason, status=status, limit=limit)
        return rows, await repo.count_by_reason(status=status)

    rows, counts = asyncio.run(_in_transaction(work))
    table = Table("id", "received", "serial", "reason", "detail")
    for row in rows:
        table.add_row(
            str(row.id),
            f"{row.received_at:%Y-%m-%d %H:%M:%S}",
            row.serial or "",
            row.reason,
            row.detail[:80],
        )
    console.print(table)
    for name, count in sorted(counts.items()):
        console.print(f"{name}: {count}")


@quarantine_app.command("reprocess")
def reprocess_quarantine(
    ids: Annotated[list[int] | None, typer.Argument(help="Quarantine ids.")] = None,
    reason: Annotated[
        list[str] | None, typer.Option(help="All open ones with this reason.")
    ] = None,
) -> None:
    """Run open quarantined messages through the ingest again (after registering a meter, say)."""
    from ingest.service import reprocess

    if not ids and not reason:
        raise typer.BadParameter("give quarantine ids or --reason")
    settings = get_settings()

    async def work(repo: IngestRepository) -> Any:
        return await reprocess(repo, ids=ids or None, reasons=reason, limits=limits_of(settings))

    result = asyncio.run(_in_transaction(work))
    console.print(f"stored: {result.reprocessed}")
    for name, count in sorted(result.still_open.items()):
        console.print(f"still open, {name}: {count}")


@quarantine_app.command("discard")
def discard_quarantine(
    ids: Annotated[list[int], typer.Argument(help="Quarantine ids.")],
) -> None:
    """Mark quarantined messages as discarded (kept for the record, never stored)."""

    async def work(repo: IngestRepository) -> Any:
        return await repo.mark_discarded(ids)

    console.print(f"discarded: {asyncio.run(_in_transaction(work))}")
