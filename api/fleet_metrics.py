"""Fleet gauges on the API's /metrics, refreshed by a small task of the API's lifespan.

Cheap queries only (``meter_state``, ``rollup_pending``, the quarantine index, the job queue's
partial indexes), never the readings hypertable, so refreshing every few seconds costs nothing
even at 100k meters.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from analytics.telemetry.repository import TelemetryRepository
from jobs.repository import JobRepository

logger = logging.getLogger(__name__)

METERS_REPORTING = Gauge(
    "waterbill_fleet_meters_reporting", "Active meters heard from within 2x their interval."
)
METERS_SILENT = Gauge(
    "waterbill_fleet_meters_silent",
    "Active meters silent for 2x their interval, or never heard, and not read by hand lately.",
)
QUARANTINE_OPEN = Gauge(
    "waterbill_fleet_quarantine_open", "Open quarantined messages by reason.", ["reason"]
)
ROLLUP_QUEUE_DEPTH = Gauge("waterbill_fleet_rollup_queue_depth", "Meters waiting for a rollup.")
ROLLUP_OLDEST_PENDING = Gauge(
    "waterbill_fleet_rollup_oldest_pending_seconds", "Age of the oldest rollup queue entry."
)
INGEST_LAG = Gauge("waterbill_fleet_ingest_lag_seconds", "Now minus the newest device time stored.")
JOBS_QUEUED = Gauge(
    "waterbill_jobs_queued", "Jobs waiting (todo) or running (doing), by task.", ["task", "status"]
)


async def update(engine: AsyncEngine) -> None:
    """Read the fleet figures once and set the gauges."""
    now = datetime.now(UTC)
    async with AsyncSession(engine) as session:
        repository = TelemetryRepository(session)
        fleet = await repository.fleet(now=now)
        quarantine = await repository.quarantine_counts()
        queued = await JobRepository(session).queue_depth()
    METERS_REPORTING.set(fleet["meters_reporting"])
    METERS_SILENT.set(
        fleet["meters_active"] - fleet["meters_reporting"] - fleet["meters_hand_read"]
    )
    ROLLUP_QUEUE_DEPTH.set(fleet["rollup_queue_depth"])
    oldest = fleet["rollup_oldest_queued_at"]
    ROLLUP_OLDEST_PENDING.set((now - oldest).total_seconds() if oldest else 0)
    newest = fleet["newest_reading_at"]
    INGEST_LAG.set((now - newest).total_seconds() if newest else 0)
    JOBS_QUEUED.clear()
    for task, status, count in queued:
        JOBS_QUEUED.labels(task=task, status=status).set(count)
    QUARANTINE_OPEN.clear()
    for row in quarantine:
        if row["status"] == "open":
            QUARANTINE_OPEN.labels(reason=row["reason"]).set(row["count"])


async def run(engine: AsyncEngine, *, interval_s: float) -> None:
    """Refresh the gauges every ``interval_s`` until cancelled; a failed round is logged."""
    while True:
        try:
            await update(engine)
        except Exception:  # the database may be down for a while: keep the API serving
            logger.warning("fleet metrics refresh failed", exc_info=True)
        await asyncio.sleep(interval_s)
