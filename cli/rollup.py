"""``waterbill rollup``: drain the rollup queue once (the worker's `rollups` job runs on a
schedule)."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Annotated, Any

import psycopg
import typer

from analytics.rollups.service import RefreshResult, refresh_pending
from core.config import Settings, get_settings

logger = logging.getLogger(__name__)


def drain(
    conn: psycopg.Connection[Any], *, limit: int, settings: Settings, stop: threading.Event
) -> int:
    """Refresh batches of ``limit`` meters, one transaction each, until the queue is empty or
    a stop is requested (the batch under way is finished and committed first)."""
    total = 0
    while not stop.is_set():
        with conn.transaction():
            result: RefreshResult = refresh_pending(
                conn,
                limit=limit,
                default_country=settings.default_country,
                work_mem=settings.rollup.work_mem,
            )
        if result.meters == 0:
            break
        total += result.meters
        logger.info(
            "rollups refreshed for %d meters (%d hours, %d days written)",
            result.meters,
            result.hours_written,
            result.days_written,
        )
    return total


def rollup(
    limit: Annotated[int | None, typer.Option(help="Meters per refresh transaction.")] = None,
) -> None:
    """Refresh the hourly and daily volumes of every meter with new readings, once (the
    worker's `rollups` job does it every minute); SIGINT/SIGTERM stop it after the batch."""
    settings = get_settings()
    limit = settings.rollup.batch_meters if limit is None else limit
    if limit < 1:
        raise typer.BadParameter("--limit must be at least 1")
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        logger.info("received %s: stopping after the current batch", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    with psycopg.connect(settings.dsn) as conn:
        refreshed = drain(conn, limit=limit, settings=settings, stop=stop)
    logger.info("rollup done: %d meter refreshes", refreshed)
