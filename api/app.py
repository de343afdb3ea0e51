"""The FastAPI application factory; pools are opened in ``lifespan`` and closed there.

Two pools: the SQLAlchemy engine for request sessions, and a psycopg pool for raw psycopg work
(forecasts, the SMS drain). That one is synchronous because its users are: they run in worker
threads (numpy work, the Twilio client), never on the event loop. The job app (its own small
pool) defers long work, such as a close, for the workers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from prometheus_client import make_asgi_app
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from api import fleet_metrics
from api.auth.throttle import make_rate_limiter
from api.errors import UnexpectedErrors, install_error_handlers
from api.headers import SecurityHeaders
from api.routers import (
    absences,
    alerts,
    anomalies,
    auth,
    billing,
    buildings,
    dwellings,
    field,
    health,
    inbound_sms,
    invoices,
    jobs,
    meters,
    payments,
    paynow,
    quarantine,
    reports,
    tariffs,
    telemetry,
    users,
    zones,
)
from api.web.mount import install_web
from billing.payments.clients import make_provider_clients
from core.config import Settings, get_settings
from core.db import make_async_engine
from core.sms import make_sms_provider
from jobs.app import make_app as make_jobs_app


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = make_async_engine(settings)
        app.state.db_pool = ConnectionPool(
            settings.dsn,
            min_size=settings.db_pool_min,
            max_size=max(settings.db_pool_min, settings.db_pool_max),
            # Each user runs its own transactions (the SMS drain: one per message).
            kwargs={"autocommit": True, "application_name": "waterbill-api"},
            open=False,
        )
        app.state.db_pool.open(wait=False)
        # Our own pool, opened without waiting like the others: the API starts (and says it is
        # not ready) while the database is away. Two connections: deferring is one short INSERT.
        jobs_pool = AsyncConnectionPool(
            settings.dsn,
            min_size=1,
            max_size=2,
            open=False,
            check=AsyncConnectionPool.check_connection,
        )
        await jobs_pool.open(wait=False)
        app.state.jobs = await make_jobs_app(settings).open_async(jobs_pool)
        gauges = asyncio.create_task(
            fleet_metrics.run(app.state.engine, interval_s=settings.telemetry.metrics_interval_s)
        )
        try:
            yield
        finally:
            gauges.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await gauges
            await app.state.rate_limiter.close()
            await jobs_pool.close()
            await asyncio.to_thread(app.state.db_pool.close)
            await app.state.engine.dispose()

    app = FastAPI(
        title="WaterBill",
        version="0.1.0",
        summary="Connected water meters to bills.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.sms = make_sms_provider(settings)
    app.state.rate_limiter = make_rate_limiter(settings.auth)
    app.state.payment_clients = make_provider_clients(settings.payments)
    install_error_handlers(app)
    app.include_router(health.router)
    for router in (auth.router, users.router, zones.router, buildings.router, dwellings.router):
        app.include_router(router)
    app.include_router(absences.router)
    app.include_router(inbound_sms.router)
    app.include_router(meters.router)
    app.include_router(telemetry.router)
    app.include_router(tariffs.router)
    app.include_router(quarantine.router)
    app.include_router(anomalies.router)
    app.include_router(alerts.router)
    app.include_router(field.router)
    app.include_router(billing.router)
    app.include_router(invoices.router)
    app.include_router(payments.router)
    app.include_router(payments.penalty_router)
    app.include_router(paynow.router)
    app.include_router(reports.router)
    app.include_router(jobs.router)
    app.mount("/metrics", make_asgi_app())
    install_web(app)
    # Phones on slow networks: JSON and page assets shrink 3-5x; small bodies are not worth it.
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    app.add_middleware(UnexpectedErrors)
    docs = {app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    app.add_middleware(SecurityHeaders, docs_paths=frozenset(p for p in docs if p))
    return app
