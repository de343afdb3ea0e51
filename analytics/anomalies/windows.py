"""Event-time windows of a scan, and the merge of what several windows found (pure, no I/O).

A scan judges the event time since its watermark, whatever the gap: a day after a daily scan,
a week after an outage, ninety days after a backfill. It slides the detectors' usual window
(``detect_days``) over that span in steps of at most ``catch_up_step_days``, each window
``detect_days + step`` long, so that every stretch of ``detect_days`` a daily scan would have
judged lies whole in one window, with the baseline learned from the days before that window.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from analytics.incidents.repository import FindingRow

DAY = timedelta(days=1)


@dataclass(frozen=True)
class Window:
    """Judge ``[start, end)``; learn the meter's normal over ``[history_start, start)``."""

    history_start: datetime
    start: datetime
    end: datetime


def plan_windows(
    *,
    watermark: datetime,
    as_of: datetime,
    detect: timedelta,
    history: timedelta,
    max_step: timedelta,
) -> list[Window]:
    """Windows ending at ``as_of``, ``as_of - step``, ... back past the watermark, oldest first.

    The step is the gap since the watermark, in whole days, capped at ``max_step``: a daily
    scan judges one window of ``detect`` plus a day, a 90-day backfill thirteen of three weeks.
    """
    gap = max(as_of - watermark, timedelta(0))
    step = min(max_step, max(DAY, DAY * -(-gap.total_seconds() // DAY.total_seconds())))
    count = max(1, -(-int(gap.total_seconds()) // int(step.total_seconds())))
    ends = [as_of - step * k for k in reversed(range(count))]
    return [Window(end - step - detect - history, end - step - detect, end) for end in ends]


def settle(findings: Iterable[FindingRow], window: Window, *, as_of: datetime) -> list[FindingRow]:
    """A window's findings, those still going on at its end ended there unless it ends at
    ``as_of``: not seen going on after it, as a daily scan would have closed them (a later
    window that sees the episode go on takes over in the merge)."""
    if window.end >= as_of:
        return list(findings)
    return [f if f.ended_at is not None else replace(f, ended_at=window.end) for f in findings]


def merge_findings(findings: Iterable[FindingRow]) -> list[FindingRow]:
    """One finding per episode: overlapping findings of a meter and kind (the same episode seen
    by overlapping windows) become one, from the earliest start; the latest sighting speaks for
    its state (severity, evidence, end)."""
    groups: dict[tuple[int, str], list[FindingRow]] = defaultdict(list)
    for finding in findings:
        groups[(finding.meter_id, finding.kind)].append(finding)
    merged: list[FindingRow] = []
    for group in groups.values():
        group.sort(key=lambda f: (f.started_at, f.last_seen_at))
        current = group[0]
        for finding in group[1:]:
            if finding.started_at <= _reach(current):
                later = finding if finding.last_seen_at >= current.last_seen_at else current
                current = replace(
                    later,
                    started_at=current.started_at,
                    from_window_start=current.from_window_start,
                )
            else:
                merged.append(current)
                current = finding
        merged.append(current)
    return merged


def _reach(finding: FindingRow) -> datetime:
    return finding.last_seen_at if finding.ended_at is None else finding.ended_at
