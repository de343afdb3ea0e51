"""Several publisher processes at once (`waterbill simulate --publishers N`): one stream each,
their statistics added up, a failure of one reported after the others finish."""

from __future__ import annotations

import logging
import multiprocessing
import signal
from typing import Any

from simulators.publisher import PublisherJob, PublishError, PublishStats, run_stream

logger = logging.getLogger(__name__)

# Load publishers run in fresh interpreters: forking a process that already runs paho threads
# is unsafe. Their stop flag must come from this same context.
LOAD_CONTEXT = multiprocessing.get_context("spawn")


def _worker(job: PublisherJob, stop: Any, results: Any) -> None:
    def request_stop(*_: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        results.put((job.index, run_stream(job, stop), None))
    except Exception as exc:
        logger.exception("publisher %d failed", job.index)
        results.put((job.index, PublishStats(), str(exc)))


def run_load(jobs: list[PublisherJob], stop: Any) -> PublishStats:
    """Run the jobs in one process each; ``stop`` is a ``LOAD_CONTEXT.Event()``.

    Raises:
        PublishError: a publisher failed (after the others finished).
    """
    results = LOAD_CONTEXT.Queue()
    processes = [
        LOAD_CONTEXT.Process(target=_worker, args=(job, stop, results), name=f"sim-pub-{job.index}")
        for job in jobs
    ]
    for process in processes:
        process.start()
    total = PublishStats()
    errors = []
    for _ in processes:
        _index, stats, error = results.get()
        total.add(stats)
        if error:
            errors.append(error)
    for process in processes:
        process.join()
    if errors:
        raise PublishError("; ".join(errors))
    return total
