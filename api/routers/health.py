"""Liveness and readiness probes for orchestrators and load balancers."""

from __future__ import annotations

import asyncio
import logging

import aiomqtt
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from api.deps import EngineDep, SettingsDep
from core.config_mqtt import client_ssl_context

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/health", tags=["health"])


class Liveness(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


@router.get("/live", response_model=Liveness)
async def live() -> Liveness:
    """The process answers; says nothing of its dependencies."""
    return Liveness(status="ok")


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
async def ready(engine: EngineDep, settings: SettingsDep) -> JSONResponse:
    """The database (with TimescaleDB) and the MQTT broker both answer in time."""
    timeout = settings.api.ready_timeout_s
    checks: dict[str, str] = {}

    async def database() -> str:
        async with engine.connect() as conn:
            version = await conn.scalar(
                text("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
            )
        return "ok" if version else "timescaledb extension missing"

    async def broker() -> str:
        mqtt = settings.mqtt
        async with aiomqtt.Client(
            mqtt.host,
            mqtt.port,
            username=mqtt.username,
            password=mqtt.password.get_secret_value() if mqtt.password else None,
            protocol=aiomqtt.ProtocolVersion.V5
            if mqtt.protocol == "5"
            else aiomqtt.ProtocolVersion.V311,
            timeout=timeout,
            tls_context=client_ssl_context(mqtt),
        ):
            return "ok"

    for name, check in (("database", database), ("broker", broker)):
        try:
            checks[name] = await asyncio.wait_for(check(), timeout)
        except Exception as exc:  # any failure is "not ready": say which and why
            logger.warning("readiness check %s failed: %s", name, exc)
            checks[name] = f"error: {type(exc).__name__}: {exc}".strip()
    healthy = all(value == "ok" for value in checks.values())
    body = Readiness(status="ok" if healthy else "unavailable", checks=checks)
    return JSONResponse(status_code=200 if healthy else 503, content=body.model_dump())
