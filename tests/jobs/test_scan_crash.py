"""The anomaly scan runs as one job per partition of the meters, each in short transactions
under its own lock and with its own watermarks: a worker killed (SIGKILL) in the middle of a
partition leaves its committed batches and its old watermarks; the job, run again by another
worker, judges the same span again, with no duplicate and no missed incident."""

import signal
from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest

from jobs.app import make_app
from jobs.tasks import defer_scan_partitions
from tests.analytics.anomalies.test_schedules import DAYS, SCAN_HOUR, START, arrange, found
from tests.analytics.arrange import ScanFleet
from tests.jobs.test_close_crash import FAST_STALLED
from tests.jobs.workers import quiet_worker_env, read_logs, wait_for

pytestmark = [pytest.mark.services, pytest.mark.slow]

AS_OF = START + timedelta(days=DAYS) + SCAN_HOUR
# Two partitions of one meter per transaction: many short transactions, and a partition to
# kill half-way while the other goes on.
SCAN = {"WATERBILL_ANALYTICS__PARTITIONS": "2", "WATERBILL_ANALYTICS__BATCH_METERS": "1"}


@pytest.fixture
def hold(database_url: str) -> Iterator[psycopg.Connection]:
    """A connection of the test's own whose transaction holds a row lock the scan waits on."""
    with psycopg.connect(database_url) as conn:
        yield conn


def statuses(db: psycopg.Connection, ids: list[int]) -> list[str]:
    return [
        status
        for (status,) in db.execute(
            "SELECT status::text FROM procrastinate_jobs WHERE id = ANY(%s) ORDER BY id", [ids]
        )
    ]


def waiting_on_a_lock(db: psycopg.Connection) -> bool:
    row = db.execute(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    ).fetchone()
    return bool(row and row[0] > 0)


class TestScanCrash:
    async def test_a_worker_killed_mid_partition_leaves_it_to_another_one_incident_each(
        self, db, database_url, settings, start_worker, tmp_path, hold
    ):
        episodes = arrange(ScanFleet(db))
        held = max(meter for _, meter, _ in episodes)
        # A live leak incident on the partition's last meter, which the scan will find over
        # (no leak there): resolving it waits on the test's row lock.
        db.execute(
            "INSERT INTO incident (meter_id, kind, severity, status, started_at, last_seen_at)"
            " VALUES (%s, 'leak', 'warning', 'open', %s, %s)",
            [held, START, START],
        )
        hold.execute("SELECT id FROM incident WHERE meter_id = %s FOR UPDATE", [held])
        env = quiet_worker_env(database_url, **FAST_STALLED, concurrency="2") | SCAN
        logs = read_logs(tmp_path)
        first = start_worker(env)
        app = make_app(settings)
        async with app.open_async():
            ids = await defer_scan_partitions(app, as_of=AS_OF, partitions=2)
        assert len(ids) == 2

        wait_for(lambda: waiting_on_a_lock(db), "the scan to wait mid-partition", logs)
        wait_for(lambda: bool(found(db)), "the first batches to be committed", logs)
        # The other partition holds no waited-on row: let it finish, so exactly one job is lost
        # (on a loaded machine both were still running at the kill).
        wait_for(lambda: "succeeded" in statuses(db, ids), "the other partition to finish", logs)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        hold.rollback()
        assert "doing" in statuses(db, ids)

        start_worker(env)
        wait_for(
            lambda: statuses(db, ids) == ["succeeded", "succeeded"],
            "both partitions' scans to succeed",
            logs,
        )
        lost = db.execute(
            "SELECT error_type FROM job_failure WHERE job_id = ANY(%s)", [ids]
        ).fetchall()
        assert lost == [("WorkerLost",)]
        assert {e for e in found(db) if e[:2] != ("leak", held)} == episodes
        leak = db.execute(
            "SELECT status::text, ended_at FROM incident WHERE meter_id = %s AND kind = 'leak'",
            [held],
        ).fetchall()
        assert leak == [("resolved", AS_OF)]
        per_episode = db.execute(
            "SELECT count(*) FROM incident WHERE kind <> 'leak' OR meter_id <> %s", [held]
        ).fetchone()
        assert per_episode == (len(episodes),)
        marks = db.execute(
            "SELECT partition, count(*), min(watermark), max(watermark)"
            " FROM analytics_watermark WHERE partitions = 2 GROUP BY 1 ORDER BY 1"
        ).fetchall()
        assert marks == [(0, 4, AS_OF, AS_OF), (1, 4, AS_OF, AS_OF)]
