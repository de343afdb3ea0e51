"""Prometheus metrics of the ingest worker (served on ``ingest.metrics_port`` when set)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES = Counter("waterbill_ingest_messages", "MQTT messages handled (stored or quarantined).")
READINGS_STORED = Counter("waterbill_ingest_readings_stored", "Readings newly stored.")
DUPLICATES = Counter(
    "waterbill_ingest_duplicates_ignored", "Readings received again and ignored (already stored)."
)
QUARANTINED = Counter(
    "waterbill_ingest_quarantined", "Messages quarantined, by reason.", ["reason"]
)
BATCH_SIZE = Histogram(
    "waterbill_ingest_batch_readings",
    "Readings per database batch.",
    buckets=(1, 10, 50, 100, 500, 1000, 2000, 5000, 10000, 20000),
)
COMMIT_SECONDS = Histogram(
    "waterbill_ingest_commit_seconds",
    "Time to write and commit one batch.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
LAG_SECONDS = Gauge(
    "waterbill_ingest_lag_seconds",
    "Now minus the device time of the latest reading committed.",
)
QUEUE_DEPTH = Gauge(
    "waterbill_ingest_queue_depth", "Messages received and not yet committed (in this worker)."
)
DB_ERRORS = Counter("waterbill_ingest_db_errors", "Batches that failed and were retried.")
SESSIONS_LOST = Counter(
    "waterbill_ingest_sessions_lost",
    "Reconnects on which the broker had lost the worker's session (CONNACK Session Present = 0),"
    " and with it the readings it had queued.",
)
UNSERVED = Counter(
    "waterbill_ingest_unserved_messages",
    "Messages seen on the topic root's catch-all whose topic no worker's shard covers.",
)
