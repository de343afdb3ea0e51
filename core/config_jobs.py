"""The ``jobs`` section of ``core.config.Settings``: the worker and the schedule of the daily work.

Schedules are cron expressions (minute hour day-of-month month day-of-week, an optional sixth
field for seconds), read in UTC. The calendar work judges each country's own day at the run's
instant (an invoice is overdue from its country's midnight after the due date), so a job whose
result depends on the day runs often enough to meet every country's midnight: `mark_overdue`
hourly. `remind` still takes the UTC day of its 06:00 UTC run, which is the local day from UTC-6
to UTC+17 (Cameroon, Papua New Guinea).
"""

from __future__ import annotations

from croniter import croniter
from pydantic import BaseModel, Field, field_validator


class JobsSettings(BaseModel):
    concurrency: int = Field(
        2, ge=1, le=64, description="Jobs one worker runs at once (each holds a connection)."
    )
    retry_attempts: int = Field(
        5, ge=0, description="Retries of a failed job before it is marked failed."
    )
    retry_backoff_s: int = Field(
        4,
        ge=1,
        description="Exponential retry wait: the n-th retry waits this to the power n seconds"
        " (4: 4 s, 16 s, 64 s, 256 s, ...).",
    )
    metrics_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="Port of this worker's Prometheus /metrics (job runs, failures, durations);"
        " none to disable.",
    )
    catch_up_s: int = Field(
        24 * 3600,
        ge=0,
        description="A worker starting after a scheduled time still runs that occurrence if it is"
        " this recent (once: runs are deduplicated by their scheduled time).",
    )
    rollup_cron: str = Field(
        "* * * * *", description="Refresh the hourly and daily rollups of meters with new data."
    )
    scan_cron: str = Field(
        "*/5 * * * *", description="VEE, then the incremental anomaly scan (`waterbill analyze`)."
    )
    alerts_cron: str = Field(
        "*/5 * * * *", description="Text customers about confirmed incidents (`alerts send`)."
    )
    overdue_cron: str = Field(
        "5 * * * *",
        description="Mark invoices overdue (`bill overdue`): hourly, so that each country's"
        " midnight after the due date is met within the hour.",
    )
    remind_cron: str = Field(
        "0 6 * * *",
        description="Credit, penalty proposals, billing SMS and reminders (`bill remind`).",
    )
    payments_poll_cron: str = Field(
        "*/2 * * * *",
        description="Ask the mobile-money providers about pending payments (`payments poll`).",
    )

    late_data_cron: str = Field(
        "*/15 * * * *",
        description="Re-close issued months that received readings after their issue: changed"
        " figures become regularisations awaiting two administrators.",
    )
    late_data_settle_s: int = Field(
        60,
        ge=0,
        description="Readings received this recently wait for the next run (an ingest commit"
        " still in flight stamps its readings with its start).",
    )
    late_data_lookback_days: int = Field(
        400,
        ge=1,
        description="Issued months that ended longer ago than this are no longer rechecked.",
    )
    late_data_margin_days: int = Field(
        2,
        ge=0,
        le=31,
        description="A late reading this far outside a month can still move its boundary index"
        " (interpolated between the readings around it), so it rechecks the month too.",
    )
    retention_cron: str = Field(
        "15 3 * * *", description="Drop raw-reading chunks past `retention_days` (rolled up)."
    )
    retention_days: int = Field(
        0,
        ge=0,
        description="Keep raw readings this many days (whole chunks go, and only those the"
        " rollups cover); 0 keeps them forever.",
    )
    heartbeat_s: float = Field(
        10.0, gt=0, le=300, description="How often a worker tells the database it is alive."
    )
    stalled_after_s: int = Field(
        120,
        ge=2,
        description="A worker silent this long counts as dead (SIGKILL, lost machine): its"
        " running jobs are queued again. Generous: a job that blocks its worker's event loop"
        " stops the beat too, and a job retried while it still runs would run twice.",
    )
    stalled_cron: str = Field(
        "* * * * *", description="Look for the jobs of dead workers (`stalled_after_s`)."
    )

    @field_validator(
        "stalled_cron",
        "late_data_cron",
        "retention_cron",
        "rollup_cron",
        "scan_cron",
        "alerts_cron",
        "overdue_cron",
        "remind_cron",
        "payments_poll_cron",
    )
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        if not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a cron expression")
        return value
