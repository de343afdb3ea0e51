"""``waterbill worker``: run the jobs, and defer the scheduled ones, until stopped."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from core.config import get_settings


def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, help="Jobs run at once (default: WATERBILL_JOBS__CONCURRENCY)."),
    ] = None,
) -> None:
    """Run queued jobs and the schedule (rollups, scan, alerts, billing days, payment polls).

    Start as many as you like, on any machine that reaches the database: each scheduled run is
    deferred once and runs on one worker.
    """
    from jobs.app import run_worker

    asyncio.run(run_worker(get_settings(), concurrency=concurrency))
