"""Batch logic: decoded messages -> readings stored or quarantined, in the caller's transaction.

A message is stored whole or quarantined whole (its raw payload kept), so that re-processing a
quarantined message is simply running it through here again.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ingest.decoder import ReadingRow, Reason, Rejection, decode
from ingest.payload import serial_from_topic
from ingest.repository import IngestRepository, MeterRef, QuarantineRow, StageRow

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
    """Serial -> meter, cached for the process: meters are never deleted, and an unknown serial
    is asked about again in the next batch that brings it (it may have been registered since).
    """

    def __init__(self) -> None:
        self._known: dict[str, MeterRef] = {}

    async def resolve(self, repo: IngestRepository, serials: set[str]) -> dict[str, MeterRef]:
        missing = [serial for serial in serials if serial not in self._known]
        if missing:
            for meter in await repo.meters_by_serial(missing):
                self._known[meter.serial] = meter
        return {serial: self._known[serial] for serial in serials if serial in self._known}


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
    for position, message in enumerate(messages):
        if isinstance(message.rows, Rejection):
            rejected[position] = message.rows
    serials = {m.serial for i, m in enumerate(messages) if i not in rejected and m.serial}
    known = await meters.resolve(repo, serials) if serials else {}
    for position, message in enumerate(messages):
        if position not in rejected and message.serial not in known:
            rejected[position] = Rejection(
                Reason.UNKNOWN_METER, f"no meter with serial {message.serial!r}"
            )
    accepted = [i for i in range(len(messages)) if i not in rejected]
    await _reject_impossible_jumps(repo, messages, accepted, known, limits, rejected)

    def stage_rows() -> list[StageRow]:
        rows: list[StageRow] = []
        for position in accepted:
            if position in rejected:
                continue
            message = messages[position]
            meter_id = known[message.serial].id  # type: ignore[index]
            rows.extend((meter_id, *row) for row in message.rows)  # type: ignore[union-attr]
        return rows

    rows = stage_rows()
    if rows:
        result.latest_time = max(row[1] for row in rows)
    result.staged, result.stored = await repo.write_readings(rows)
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


async def _reject_impossible_jumps(
    repo: IngestRepository,
    messages: Sequence[Message],
    accepted: list[int],
    known: dict[str, MeterRef],
    limits: Limits,
    rejected: dict[int, Rejection],
) -> None:
    """Quarantine messages whose index moved more than the meter could have measured.

    Each reading is judged against the nearest earlier known point of its meter: the meter's
    stored latest reading, or an earlier reading of this batch. The register wraps at
    10**register_digits, so a small step backwards shows as a huge forward jump, as it should.
    """
    points: dict[int, list[tuple[datetime, int, int]]] = defaultdict(list)
    digits: dict[int, int] = {}
    for position in accepted:
        message = messages[position]
        meter = known[message.serial]  # type: ignore[index]
        digits[meter.id] = meter.register_digits
        series = points[meter.id]
        for row in message.rows:  # type: ignore[union-attr]
            series.append((row[0], row[1], position))
    if not points:
        return
    for last in await repo.last_readings(list(points)):
        points[last.meter_id].append((last.last_time, last.last_index_l, -1))
    max_l_per_s = limits.max_flow_lph / 3600
    for meter_id, series in points.items():
        series.sort(key=lambda point: (point[0], point[2]))
        modulus = 10 ** digits[meter_id]
        previous: tuple[datetime, int, int] | None = None
        for point in series:
            if point[2] in rejected:
                continue
            if previous is not None:
                step = (point[1] - previous[1]) % modulus
                seconds = (point[0] - previous[0]).total_seconds()
                # One litre of slack: registers round, and two reads can share a second.
                if step > max_l_per_s * seconds + 1:
                    rejected[point[2]] = Rejection(
                        Reason.INDEX_JUMP,
                        f"index {point[1]} at {point[0].isoformat()}: {step} l in {seconds:.0f} s"
                        f" since {previous[1]} at {previous[0].isoformat()}"
                        f" (at most {limits.max_flow_lph:.0f} l/h)",
                    )
                    continue
            previous = point


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
