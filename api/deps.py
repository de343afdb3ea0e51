"""Request dependencies as typed aliases: settings, a per-request session, the psycopg pool,
the job app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import procrastinate
from fastapi import Depends, Request
from psycopg_pool import ConnectionPool
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core.config import Settings


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_engine(request: Request) -> AsyncEngine:
    engine: AsyncEngine = request.app.state.engine
    return engine


def get_db_pool(request: Request) -> ConnectionPool:
    """The raw psycopg pool opened in ``lifespan``."""
    pool: ConnectionPool = request.app.state.db_pool
    return pool


def get_jobs(request: Request) -> procrastinate.App:
    """The job app opened in ``lifespan``, to defer long work."""
    jobs: procrastinate.App = request.app.state.jobs
    return jobs


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler succeeds, rolled back otherwise."""
    async with AsyncSession(get_engine(request), expire_on_commit=False) as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
EngineDep = Annotated[AsyncEngine, Depends(get_engine)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
DbPoolDep = Annotated[ConnectionPool, Depends(get_db_pool)]
JobsDep = Annotated[procrastinate.App, Depends(get_jobs)]
