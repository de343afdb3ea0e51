"""Batch logic: decoded messages -> readings stored or quarantined, in the caller's transaction.

A message is stored whole or quarantined whole (its raw payload kept), so that re-processing a
quarantined message is simply running it through here again.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter

from core.config import Settings
from ingest.decoder import ReadingRow, Reason, Rejection, decode
from ingest.repository import (
    FreshMeter,
    IngestRepository,
    Neighbours,
    QuarantineRow,
    ReadingTableRow,
    StageRow,
)
from wire.alarms import Alarm
from wire.topics import serial_from_topic

logger = logging.getLogger(__name__)

_BACKFLOW = int(Alarm.BACKFLOW)


@dataclass(slots=True)
class Message:
    """One uplink as received: ``rows`` is the decoder's verdict (computed once, at receipt)."""

    topic: str
    payload: bytes
    serial: str | None
    rows: list[ReadingRow] | Rejection


@dataclass(frozen=True)
class Limits:
    """What the decoder and the plausibility checks accept."""

    topic_prefix: str
    max_future_s: float
    max_flow_lph: float
    reverse_tolerance_l: int = 20

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            topic_prefix=settings.mqtt.topic_prefix,
            max_future_s=settings.ingest.max_future_s,
            max_flow_lph=settings.ingest.max_flow_lph,
            reverse_tolerance_l=settings.ingest.reverse_tolerance_l,
        )


@dataclass
class BatchResult:
    messages: int = 0
    staged: int = 0
    stored: int = 0
    rejected: dict[int, Rejection] = field(default_factory=dict)
    latest_time: datetime | None = None

    @property
    def duplicates(self) -> int:
        return self.staged - self.stored


def receive(topic: str, payload: bytes, *, limits: Limits, now: float | None = None) -> Message:
    """Decode one message as it arrives (pure: the database is consulted at batch time)."""
    serial = serial_from_topic(limits.topic_prefix, topic)
    if serial is None:
        return Message(topic, payload, None, Rejection(Reason.BAD_TOPIC, f"topic {topic[:200]!r}"))
    rows = decode(
        payload, now=time.time() if now is None else now, max_future_s=limits.max_future_s
    )
    return Message(topic, payload, serial, rows)


class MeterDirectory:
    """Serial -> meter id, cached for the process: meters are never deleted, and an unknown
    serial is asked about again in the next batch that brings it (it may have been registered
    since). What can change about a meter (its removal) is read with every batch.
    """

    def __init__(self) -> None:
        self._known: dict[str, int] = {}

    async def resolve(self, repo: IngestRepository, serials: set[str]) -> dict[str, int]:
        known = self._known
        missing = [serial for serial in serials if serial not in known]
        if missing:
            for meter in await repo.meters_by_serial(missing):
                known[meter.serial] = meter.id
        return known


# A reading as the plausibility check sees it: (epoch s, message position, the decoded row).
_Point = tuple[float, int, ReadingRow]


async def record_messages(
    repo: IngestRepository,
    *,
    messages: Sequence[Message],
    limits: Limits,
    meters: MeterDirectory,
    quarantine: bool = True,
) -> BatchResult:
    """Store the readings of a batch of messages; quarantine the rest (when ``quarantine``).

    Returns what happened, with each rejected message's index in ``messages``.
    """
    result = BatchResult(messages=len(messages))
    rejected = result.rejected
    serials: set[str] = set()
    for position, message in enumerate(messages):
        if type(message.rows) is Rejection:
            rejected[position] = message.rows
        else:
            serials.add(message.serial)  # type: ignore[arg-type]
    known = await meters.resolve(repo, serials) if serials else {}
    points: dict[int, list[_Point]] = {}
    for position, message in enumerate(messages):
        if position in rejected:
            continue
        meter_id = known.get(message.serial)  # type: ignore[arg-type]
        if meter_id is None:
            rejected[position] = Rejection(
                Reason.UNKNOWN_METER, f"no meter with serial {message.serial!r}"
            )
            continue
        series = points.get(meter_id)
        if series is None:
            series = points[meter_id] = []
        for row in message.rows:  # type: ignore[union-attr]
            series.append((row[0].timestamp(), position, row))
    if points:
        latest = await _judge(repo, points, limits, rejected)
        fresh, positions, summaries, others = _split(points, latest, rejected)
        times = [summary[2] for summary in summaries] + [row[1] for row in others]
        result.latest_time = max(times) if times else None
        written = await repo.write_readings(fresh, positions, summaries, others)
        result.staged, result.stored = written.staged, written.stored
        for position, stamp, index, other in written.conflicts:
            rejected[position] = Rejection(
                Reason.CONFLICTING_DUPLICATE,
                f"index {index} at {stamp.isoformat()}: the reading at that time has index {other}",
            )
        if written.conflicts:
            # Left out, so neither stored nor duplicates.
            result.staged -= sum(1 for row in others if row[7] in rejected)
    if quarantine and rejected:
        await repo.quarantine(
            [
                quarantine_row(messages[position], rejection)
                for position, rejection in rejected.items()
            ]
        )
    return result


def quarantine_row(message: Message, rejection: Rejection) -> QuarantineRow:
    # Details quote the payload's keys and values; PostgreSQL text cannot hold NUL.
    detail = rejection.detail.replace("\x00", "\\x00")
    return (message.topic, message.payload, rejection.reason.value, detail, message.serial)


def _split(
    points: dict[int, list[_Point]], latest: dict[int, float], rejected: dict[int, Rejection]
) -> tuple[list[ReadingTableRow], list[int], list[FreshMeter], list[StageRow]]:
    """The accepted readings as (fresh rows, their messages, their per-meter summary, the others).

    A reading later than its meter's latest stored one, and not twice in this batch, cannot be
    a duplicate: it skips the ON CONFLICT path (see ``IngestRepository.write_readings``). A
    message with any other reading goes whole through that path, where a conflicting duplicate
    leaves its whole message out. Each meter's series is in time order here (``_judge`` sorted
    it), so equal times are adjacent, the first received first.
    """
    fresh: list[ReadingTableRow] = []
    positions: list[int] = []
    summaries: list[FreshMeter] = []
    others: list[StageRow] = []
    for meter_id, series in points.items():
        after = latest[meter_id]
        staged: set[int] = set()
        for epoch, position, _ in series:
            if position in rejected:
                continue
            if epoch <= after:
                staged.add(position)
            else:
                after = epoch  # the next reading at this same time is a duplicate
        count = 0
        first = last = None
        for _, position, row in series:
            if position in rejected:
                continue
            if staged and position in staged:
                others.append((meter_id, *row, position))
                continue
            fresh.append((meter_id, row[0], "iot", row[1], row[2], row[3], row[4], row[5]))
            positions.append(position)
            if first is None:
                first = row
            last = row
            count += 1
        if first is not None and last is not None:
            summaries.append((meter_id, first[0], last[0], last[1], count))
    return fresh, positions, summaries, others


async def _judge(
    repo: IngestRepository,
    points: dict[int, list[_Point]],
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


def rejection_counts(result: BatchResult) -> Counter[Reason]:
    return Counter(rejection.reason for rejection in result.rejected.values())


@dataclass(frozen=True)
class ReprocessResult:
    reprocessed: int
    still_open: dict[str, int]


async def reprocess(
    repo: IngestRepository,
    *,
    ids: Sequence[int] | None = None,
    reasons: Sequence[str] | None = None,
    limits: Limits,
    limit: int = 10_000,
) -> ReprocessResult:
    """Run open quarantined messages through decode and write again.

    Stored ones are marked reprocessed; the others stay open with the reason found this time.
    """
    await repo.create_stage()
    items = await repo.quarantined(ids=ids, reasons=reasons, status="open", limit=limit, lock=True)
    messages = [receive(item.topic, item.payload, limits=limits) for item in items]
    result = await record_messages(
        repo, messages=messages, limits=limits, meters=MeterDirectory(), quarantine=False
    )
    await repo.mark_reprocessed(
        [item.id for position, item in enumerate(items) if position not in result.rejected]
    )
    await repo.requarantine(
        [
            (items[position].id, rejection.reason.value, rejection.detail)
            for position, rejection in result.rejected.items()
        ]
    )
    still_open = Counter(rejection.reason.value for rejection in result.rejected.values())
    logger.info(
        "reprocessed %d quarantined messages: %d stored, %d still open",
        len(items),
        len(items) - len(result.rejected),
        len(result.rejected),
    )
    return ReprocessResult(reprocessed=len(items) - len(result.rejected), still_open=still_open)
