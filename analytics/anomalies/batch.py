"""What the detectors of one batch of meters read: hourly windows on each meter's local
calendar, raw reading series, and what live incidents learned when they opened."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from analytics.anomalies.exceptions import UnknownMeters
from analytics.anomalies.features import (
    HourlySeries,
    ReadingSeries,
    hourly_series,
    local_calendar,
)
from analytics.anomalies.repository import MeterContext, ReadingRow, ScanRepository
from analytics.incidents.models import IncidentKind
from analytics.incidents.repository import IncidentBatchRepository
from analytics.occupancy.service import Away, away_by_meter
from core.config_analytics import AnalyticsSettings


@dataclass(frozen=True)
class Batch:
    """What the detectors of one batch of meters read from the database."""

    contexts: Sequence[MeterContext]
    hourly: dict[int, HourlySeries]
    readings: dict[int, ReadingSeries]
    leaks: dict[int, dict[str, Any]]
    stucks: dict[int, dict[str, Any]]
    # Declared absences and inferred vacancies (meters with none are left out).
    away: dict[int, Away]


def read_batch(
    repo: ScanRepository,
    incidents: IncidentBatchRepository,
    meter_ids: Sequence[int],
    *,
    hourly_since: datetime,
    readings_since: datetime,
    until: datetime,
    default_country: str,
    options: AnalyticsSettings,
) -> Batch:
    """Hourly volumes over ``[hourly_since, until)`` (whole hours) and the raw readings over
    ``[readings_since, until)`` of these meters."""
    contexts = repo.meter_contexts(meter_ids, default_country=default_country)
    if len(contexts) != len(set(meter_ids)):
        known = {c.meter_id for c in contexts}
        raise UnknownMeters(sorted(set(meter_ids) - known))
    ids = [c.meter_id for c in contexts]
    return Batch(
        contexts=contexts,
        hourly=hourly_windows(
            repo,
            {c.meter_id: c.timezone for c in contexts},
            since=_hour(hourly_since),
            until=_hour(until),
        ),
        readings=reading_series(repo.readings(ids, since=readings_since, until=until)),
        # What live incidents learned when they opened, so they are judged by the same norm.
        leaks=incidents.live_evidence(ids, IncidentKind.LEAK.value),
        stucks=incidents.live_evidence(ids, IncidentKind.STUCK.value),
        # Local dates: a day either side of the UTC window covers every time zone.
        away=away_by_meter(
            repo.conn,
            ids,
            since=hourly_since.date() - timedelta(days=1),
            until=until.date() + timedelta(days=2),
            options=options,
        ),
    )


def _hour(instant: datetime) -> datetime:
    return instant.replace(minute=0, second=0, microsecond=0)


def hourly_windows(
    repo: ScanRepository, timezones: dict[int, str], *, since: datetime, until: datetime
) -> dict[int, HourlySeries]:
    """Each meter's hourly volumes over the UTC hours of ``[since, until)`` on its local
    calendar (``timezones``: meter id to IANA zone), NaN where the readings do not say."""
    first_hour = int(since.timestamp()) // 3600
    hours = int(until.timestamp()) // 3600 - first_hour
    calendars = {
        tz: local_calendar(tz, first_hour, hours) for tz in sorted(set(timezones.values()))
    }
    series = {
        row.meter_id: hourly_series(
            np.frombuffer(row.hour_end, dtype=">i8").astype(np.int64),
            np.frombuffer(row.index_l, dtype=">i8").astype(np.int64),
            calendars[timezones[row.meter_id]],
        )
        for row in repo.hour_end_indexes(list(timezones), since=since, until=until)
    }
    empty = np.array([], dtype=np.int64)
    for meter_id, tz in timezones.items():
        if meter_id not in series:
            series[meter_id] = hourly_series(empty, empty, calendars[tz])
    return series


def reading_series(rows: Sequence[ReadingRow]) -> dict[int, ReadingSeries]:
    by_meter: dict[int, list[ReadingRow]] = defaultdict(list)
    for row in rows:
        by_meter[row.meter_id].append(row)
    return {
        meter_id: ReadingSeries(
            time=instants([r.time for r in meter_rows]),
            index_l=np.array([r.index_l for r in meter_rows], dtype=np.int64),
            flow_lph=np.array(
                [np.nan if r.flow_lph is None else r.flow_lph for r in meter_rows], dtype=float
            ),
            alarms=np.array([r.alarms for r in meter_rows], dtype=np.int64),
        )
        for meter_id, meter_rows in by_meter.items()
    }


def instants(values: Sequence[datetime]) -> np.ndarray:
    return np.array([int(v.timestamp()) for v in values], dtype=np.int64).astype("datetime64[s]")
