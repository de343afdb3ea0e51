"""The FastAPI application factory; pools are opened in ``lifespan`` and closed there."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import make_asgi_app

from api.errors import install_error_handlers
from api.routers import health, quarantine
from core.config import Settings, get_settings
from core.db import make_async_engine


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = make_async_engine(settings)
        try:
            yield
        finally:
            await app.state.engine.dispose()

    app = FastAPI(
        title="WaterBill",
        version="0.1.0",
        summary="Connected water meters to bills.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(quarantine.router)
    app.mount("/metrics", make_asgi_app())
    return app
