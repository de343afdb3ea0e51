"""Prometheus metrics of the jobs a worker runs, on that worker's /metrics (``jobs.metrics_port``).

Runs and durations are counted where they happen, per worker process, as Prometheus expects
(it sums them over workers); the queue depth is one figure for all workers, read from the job
table on the API's /metrics (``api.fleet_metrics``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from procrastinate.job_context import JobContext
from procrastinate.worker import Worker
from prometheus_client import Counter, Histogram

JOB_RUNS = Counter(
    "waterbill_job_runs", "Job runs finished, by task and outcome.", ["task", "outcome"]
)
JOB_DURATION = Histogram(
    "waterbill_job_duration_seconds",
    "Run time of a job, by task.",
    ["task"],
    # From a rollup tick (well under a second) to a fleet-wide close (minutes).
    buckets=(0.05, 0.25, 1, 5, 15, 60, 300, 900, 3600),
)


async def measure(
    call_next: Callable[[], Awaitable[Any]], context: JobContext, _worker: Worker
) -> Any:
    """Worker middleware: count each run by outcome and time it."""
    task = context.job.task_name
    started = time.perf_counter()
    try:
        result = await call_next()
    except BaseException:
        JOB_RUNS.labels(task=task, outcome="failed").inc()
        raise
    finally:
        JOB_DURATION.labels(task=task).observe(time.perf_counter() - started)
    JOB_RUNS.labels(task=task, outcome="succeeded").inc()
    return result
