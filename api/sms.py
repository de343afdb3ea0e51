"""SMS from requests: the provider, and draining what a request queued once it is committed.

Requests only enqueue (``core.notifications``); the drain runs as a background task after the
commit, on a connection of the app's psycopg pool, so the customer still gets a code at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated

from fastapi import BackgroundTasks, Depends, Request
from psycopg_pool import ConnectionPool
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core.config import Settings
from core.notifications import service as notifications
from core.notifications.service import RetryPolicy
from core.sms import SmsProvider


def get_sms(request: Request) -> SmsProvider:
    provider: SmsProvider = request.app.state.sms
    return provider


SmsDep = Annotated[SmsProvider, Depends(get_sms)]


def _drain(
    pool: ConnectionPool, provider: SmsProvider, policy: RetryPolicy, ids: list[int]
) -> None:
    with pool.connection() as conn:
        notifications.drain(conn, provider=provider, policy=policy, now=datetime.now(UTC), ids=ids)


def drain_after_commit(background: BackgroundTasks, request: Request, ids: Sequence[int]) -> None:
    """Send the SMS ``ids`` once the response is out (the caller has committed them)."""
    if not ids:
        return
    settings: Settings = request.app.state.settings
    background.add_task(
        _drain,
        request.app.state.db_pool,
        request.app.state.sms,
        RetryPolicy.of(settings.sms),
        list(ids),
    )


def queue_and_drain_after(
    background: BackgroundTasks,
    request: Request,
    queue: Callable[[AsyncSession], Awaitable[Sequence[int]]],
) -> None:
    """After the response: run ``queue`` in a transaction of its own, then send what it queued."""
    engine: AsyncEngine = request.app.state.engine
    pool: ConnectionPool = request.app.state.db_pool
    provider = get_sms(request)
    settings: Settings = request.app.state.settings

    async def work() -> None:
        async with AsyncSession(engine) as session, session.begin():
            ids = await queue(session)
        if ids:
            await asyncio.to_thread(_drain, pool, provider, RetryPolicy.of(settings.sms), list(ids))

    background.add_task(work)
