"""Whether a batch's readings fit their meter: its service dates, its register, and the index
moves it could make since (or until) its neighbouring readings.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from operator import itemgetter
from typing import TYPE_CHECKING

from ingest.decoder import ReadingRow, Reason, Rejection
from ingest.repository import IngestRepository, Neighbours
from wire.alarms import Alarm

if TYPE_CHECKING:
    from ingest.service import Limits

_BACKFLOW = int(Alarm.BACKFLOW)

# A reading as the plausibility check sees it: (epoch s, message position, the decoded row).
Point = tuple[float, int, ReadingRow]


async def judge(
    repo: IngestRepository,
    points: dict[int, list[Point]],
    limits: Limits,
    rejected: dict[int, Rejection],
) -> dict[int, float]:
    """Quarantine readings outside their meter's service, indexes its register cannot show, and
    index moves no meter could make.

    Each reading is judged against its true neighbours in time: the latest earlier reading
    (stored, or accepted earlier in this batch) and, for a late reading, the next stored one.
    A reading at a time already stored or accepted is left to the writer (a duplicate, or a
    conflicting one). A step forward (modulo the register's ``10**digits``, so a wrap is a small
    step) must fit the highest flow over the time between; a step back is stored when it is small
    (``reverse_tolerance_l``) or flagged as backflow and within the highest flow; anything else
    is an ``index_jump``. The walk is sequential per meter, so a rejected reading is never the
    neighbour another is judged against, and the verdict does not depend on how readings were
    split into batches.

    Returns each meter's latest stored reading time (epoch s; -inf when it has none).
    """
    meters = {row[0]: row for row in await repo.meter_checks(list(points))}
    probes: list[tuple[int, float, datetime]] = []
    for meter_id, series in points.items():
        last = meters[meter_id][4]
        if last is not None:
            probes.extend([(meter_id, p[0], p[2][0]) for p in series if p[0] <= last])
        if len(series) > 1:
            series.sort(key=itemgetter(0, 1))
    neighbours: dict[tuple[int, float], Neighbours] = {}
    if probes:
        found = await repo.neighbours([(meter_id, stamp) for meter_id, _, stamp in probes])
        neighbours = {
            (meter_id, epoch): near
            for (meter_id, epoch, _), near in zip(probes, found, strict=True)
        }
    max_l_per_s = limits.max_flow_lph / 3600
    latest: dict[int, float] = {}
    for meter_id, series in points.items():
        _, digits, installed, removed, last_time, last_index = meters[meter_id]
        modulus = 10**digits
        if removed is None:
            removed = math.inf
        state = None
        if last_time is not None and last_index is not None:
            state = (last_time, last_index)
        latest[meter_id] = last_time if last_time is not None else -math.inf
        previous: tuple[float, int] | None = None  # latest accepted reading of this batch
        for epoch, position, row in series:
            if position in rejected:
                continue
            stamp, index, alarms = row[0], row[1], row[5]
            if epoch < installed:
                installation = datetime.fromtimestamp(installed, UTC).isoformat()
                rejected[position] = Rejection(
                    Reason.IMPLAUSIBLE_TIME,
                    f"reading at {stamp.isoformat()} before the meter's installation on"
                    f" {installation}",
                )
                continue
            if index >= modulus:
                rejected[position] = Rejection(
                    Reason.INDEX_OUT_OF_RANGE,
                    f"index {index} at {stamp.isoformat()}: a {digits}-digit register shows at"
                    f" most {modulus - 1}",
                )
                continue
            if epoch >= removed:
                removal = datetime.fromtimestamp(removed, UTC).isoformat()
                rejected[position] = Rejection(
                    Reason.METER_REMOVED,
                    f"reading at {stamp.isoformat()} after the meter's removal on {removal}",
                )
                continue
            before: tuple[float, int] | None = state
            after: tuple[float, int, int] | None = None
            if state is not None and epoch <= state[0]:
                before_time, before_index, after_time, after_index, after_alarms, stored_here = (
                    neighbours[(meter_id, epoch)]
                )
                if stored_here:
                    continue  # a duplicate, identical or conflicting: the writer tells which
                before = None
                if before_time is not None and before_index is not None:
                    before = (before_time, before_index)
                if after_time is not None and after_index is not None:
                    after = (after_time, after_index, after_alarms or 0)
            if previous is not None and previous[0] == epoch:
                continue  # likewise, against the reading accepted at this time in the batch
            if previous is not None and (before is None or previous[0] > before[0]):
                before = previous
            problem = None
            if before is not None:
                problem = _implausible(before, (epoch, index), alarms, modulus, max_l_per_s, limits)
            if problem is None and after is not None:
                problem = _implausible(
                    (epoch, index), after[:2], after[2], modulus, max_l_per_s, limits
                )
            if problem is not None:
                rejected[position] = Rejection(
                    Reason.INDEX_JUMP,
                    f"index {index} at {stamp.isoformat()}: {problem}"
                    f" (at most {limits.max_flow_lph:.0f} l/h)",
                )
                continue
            previous = (epoch, index)
    return latest


def _implausible(
    before: tuple[float, int],
    after: tuple[float, int],
    alarms: int,
    modulus: int,
    max_l_per_s: float,
    limits: Limits,
) -> str | None:
    """Why the register cannot have gone from ``before`` to ``after``, or None if it can."""
    seconds = abs(after[0] - before[0])
    # One litre of slack: registers round, and two reads can share a second.
    most = max_l_per_s * seconds + 1
    forward = (after[1] - before[1]) % modulus
    if forward <= most:
        return None
    back = modulus - forward
    if back <= limits.reverse_tolerance_l or (alarms & _BACKFLOW and back <= most):
        return None
    if back < forward:
        return f"{back} l back in {seconds:.0f} s from {before[1]} without a backflow alarm"
    return f"{forward} l in {seconds:.0f} s from {before[1]}"
