"""Batch logic: decoded messages -> readings stored or quarantined, in the caller's transaction.

A message is stored whole or quarantined whole (its raw payload kept), so that re-processing a
quarantined message is simply running it through here again.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from core.config import Settings
from ingest.decoder import ReadingRow, Reason, Rejection, decode, kept
from ingest.plausibility import Point, judge
from ingest.repository import (
    FreshMeter,
    IngestRepository,
    QuarantineRow,
    ReadingTableRow,
    StageRow,
)
from wire.topics import serial_from_topic

logger = logging.getLogger(__name__)


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
    max_payload_bytes: int
    reverse_tolerance_l: int = 20

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            topic_prefix=settings.mqtt.topic_prefix,
            max_future_s=settings.ingest.max_future_s,
            max_flow_lph=settings.ingest.max_flow_lph,
            max_payload_bytes=settings.ingest.max_payload_bytes,
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
        rejection = Rejection(Reason.BAD_TOPIC, f"topic {topic[:200]!r}")
        return Message(topic, kept(payload, limits.max_payload_bytes), None, rejection)
    rows = decode(
        payload,
        now=time.time() if now is None else now,
        max_future_s=limits.max_future_s,
        max_payload_bytes=limits.max_payload_bytes,
    )
    return Message(topic, kept(payload, limits.max_payload_bytes), serial, rows)


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
    points: dict[int, list[Point]] = {}
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
        latest = await judge(repo, points, limits, rejected)
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
    points: dict[int, list[Point]], latest: dict[int, float], rejected: dict[int, Rejection]
) -> tuple[list[ReadingTableRow], list[int], list[FreshMeter], list[StageRow]]:
    """The accepted readings as (fresh rows, their messages, their per-meter summary, the others).

    A reading later than its meter's latest stored one, and not twice in this batch, cannot be
    a duplicate: it skips the ON CONFLICT path (see ``IngestRepository.write_readings``). A
    message with any other reading goes whole through that path, where a conflicting duplicate
    leaves its whole message out. Each meter's series is in time order here (``judge`` sorted
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
