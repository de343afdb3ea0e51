"""Away days per meter, as numpy day arrays the detectors filter baselines with."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import psycopg

from analytics.arrays import TimeArray
from analytics.occupancy.repository import OccupancyRepository
from core.config_analytics import AnalyticsSettings


def _no_days() -> TimeArray:
    return np.array([], dtype="datetime64[D]")


@dataclass(frozen=True)
class Away:
    """One meter's away days (``datetime64[D]``, local dates): ``declared`` absences, and
    ``any`` (declared or inferred vacancy), which baselines leave out."""

    declared: TimeArray = field(default_factory=_no_days)
    any: TimeArray = field(default_factory=_no_days)


def away_by_meter(
    conn: psycopg.Connection[Any],
    meter_ids: Sequence[int],
    *,
    since: date,
    until: date,
    options: AnalyticsSettings,
) -> dict[int, Away]:
    """Each meter's away days in ``[since, until)``; meters with none are left out."""
    rows = OccupancyRepository(conn).away_days(
        meter_ids,
        since=since,
        until=until,
        absent_day_l=options.absent_day_l,
        step_ratio=options.vacancy_step_ratio,
        min_days=options.vacancy_min_days,
    )
    declared: dict[int, list[date]] = defaultdict(list)
    every: dict[int, list[date]] = defaultdict(list)
    for row in rows:
        every[row.meter_id].append(row.day)
        if row.declared:
            declared[row.meter_id].append(row.day)
    return {
        meter_id: Away(
            declared=np.array(declared.get(meter_id, []), dtype="datetime64[D]"),
            any=np.array(days, dtype="datetime64[D]"),
        )
        for meter_id, days in every.items()
    }
