"""Field work: record a manual reading or a fault once per idempotency key, and build a round.

An offline client sends each upload with a key it chose when the technician pressed "save".
The first request with a key is processed and its answer stored under the key, in the same
transaction; a replay (the network dropped the answer, the sync ran twice) gets the stored
answer again, whatever happened since; the same key with another body is a 409.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ingest.field import photos
from ingest.field.decisions import Context, Decision, Limits, Outcome, decide
from ingest.field.exceptions import IdempotencyKeyReused
from ingest.field.models import FaultKind, MeterFault
from ingest.field.repository import FieldRepository, RoundRow
from registry.models import Meter

READING_ENDPOINT = "readings.manual"
FAULT_ENDPOINT = "meters.faults"


@dataclass(frozen=True)
class Answer:
    """An HTTP answer as the route returns it, and as a replay returns it again."""

    status_code: int
    body: dict[str, Any]
    replayed: bool = False


def request_hash(endpoint: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps({"endpoint": endpoint, **fields}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _replay_or_claim(
    repo: FieldRepository, *, key: str, user_id: int, endpoint: str, fingerprint: str
) -> Answer | None:
    taken = await repo.claim_key(
        key=key, user_id=user_id, endpoint=endpoint, request_hash=fingerprint
    )
    if taken is None:
        return None
    if taken.user_id != user_id or taken.endpoint != endpoint or taken.request_hash != fingerprint:
        raise IdempotencyKeyReused(
            f"idempotency key {key!r} was already used for a different request"
        )
    return Answer(taken.status_code, taken.response, replayed=True)


def _reading_answer(
    decision: Decision, *, meter_id: int, time: datetime, index_l: int, photo_id: int | None
) -> Answer:
    body: dict[str, Any] = {
        "status": decision.outcome.value,
        "reason": decision.reason,
        "message": decision.message,
        "warnings": decision.warnings,
        "meter_id": meter_id,
        "time": time.isoformat(),
        "index_l": index_l,
        "photo_id": photo_id,
    }
    if decision.outcome is Outcome.REJECTED:
        # Also an ErrorOut, like every other application error.
        return Answer(409, {"error": "ReadingRejected", "detail": decision.message, **body})
    return Answer(201 if decision.outcome is not Outcome.DUPLICATE else 200, body)


async def record_manual_reading(
    session: AsyncSession,
    *,
    key: str,
    user_id: int,
    meter: Meter,
    time: datetime,
    index_l: int,
    note: str,
    photo: photos.PhotoBytes | None,
    photo_root: Path,
    limits: Limits,
    match_window_s: int,
) -> Answer:
    """Judge and store one manual reading (see ``decisions``), once per ``key``."""
    repo = FieldRepository(session)
    fingerprint = request_hash(
        READING_ENDPOINT,
        {
            "meter_id": meter.id,
            "time": time.isoformat(),
            "index_l": index_l,
            "note": note,
            "photo": photo.sha256 if photo else None,
        },
    )
    replay = await _replay_or_claim(
        repo, key=key, user_id=user_id, endpoint=READING_ENDPOINT, fingerprint=fingerprint
    )
    if replay is not None:
        return replay
    context = Context(
        installed_at=meter.installed_at,
        removed_at=meter.removed_at,
        register_digits=meter.register_digits,
        same_time_manual=await repo.same_time_manual(meter_id=meter.id, time=time),
        previous=await repo.previous(meter_id=meter.id, time=time),
        next=await repo.following(meter_id=meter.id, time=time),
        nearest_meter_reading=await repo.nearest_meter_reading(
            meter_id=meter.id, time=time, window_s=match_window_s
        ),
    )
    decision = decide(time, index_l, context, limits)
    photo_id = None
    if photo is not None and decision.outcome is not Outcome.REJECTED:
        photo_id = await photos.store_photo(
            session, photo=photo, root=photo_root, uploaded_by=user_id
        )
    if decision.outcome in (Outcome.ACCEPTED, Outcome.ACCEPTED_WITH_WARNING):
        await repo.insert_manual_reading(
            meter_id=meter.id,
            time=time,
            index_l=index_l,
            read_by=user_id,
            note=note,
            photo_id=photo_id,
            outcome=decision.outcome.value,
        )
    answer = _reading_answer(
        decision, meter_id=meter.id, time=time, index_l=index_l, photo_id=photo_id
    )
    await repo.settle_key(key=key, status_code=answer.status_code, response=answer.body)
    return answer


def fault_body(fault: MeterFault) -> dict[str, Any]:
    return {
        "id": fault.id,
        "meter_id": fault.meter_id,
        "kind": fault.kind.value,
        "note": fault.note,
        "photo_id": fault.photo_id,
        "status": fault.status.value,
        "reported_by": fault.reported_by,
        "observed_at": fault.observed_at.isoformat(),
        "reported_at": fault.reported_at.isoformat(),
        "resolved_at": fault.resolved_at.isoformat() if fault.resolved_at else None,
    }


async def report_fault(
    session: AsyncSession,
    *,
    key: str | None,
    user_id: int,
    meter: Meter,
    kind: FaultKind,
    note: str,
    observed_at: datetime,
    photo: photos.PhotoBytes | None,
    photo_root: Path,
) -> Answer:
    """Open a fault on a meter, once per ``key`` when one is given."""
    repo = FieldRepository(session)
    if key is not None:
        fingerprint = request_hash(
            FAULT_ENDPOINT,
            {
                "meter_id": meter.id,
                "kind": kind.value,
                "note": note,
                "observed_at": observed_at.isoformat(),
                "photo": photo.sha256 if photo else None,
            },
        )
        replay = await _replay_or_claim(
            repo, key=key, user_id=user_id, endpoint=FAULT_ENDPOINT, fingerprint=fingerprint
        )
        if replay is not None:
            return replay
    photo_id = None
    if photo is not None:
        photo_id = await photos.store_photo(
            session, photo=photo, root=photo_root, uploaded_by=user_id
        )
    fault = MeterFault(
        meter_id=meter.id,
        kind=kind,
        note=note,
        photo_id=photo_id,
        reported_by=user_id,
        observed_at=observed_at,
    )
    session.add(fault)
    await session.flush()
    await session.refresh(fault)
    answer = Answer(201, fault_body(fault))
    if key is not None:
        await repo.settle_key(key=key, status_code=answer.status_code, response=answer.body)
    return answer


@dataclass(frozen=True)
class RoundItem:
    row: RoundRow
    reasons: list[str]
    faults: list[MeterFault]


async def todays_round(
    session: AsyncSession,
    *,
    meter_ids: list[int] | None,
    default_country: str,
    silent_hours: int,
    due_days: int,
    limit: int,
) -> list[RoundItem]:
    """The meters to visit today, with why (see ``repository._ROUND`` and the README)."""
    repo = FieldRepository(session)
    rows = await repo.round_rows(
        meter_ids=meter_ids,
        default_country=default_country,
        silent_hours=silent_hours,
        due_days=due_days,
        limit=limit,
    )
    faults = await repo.open_faults([r.id for r in rows if r.open_faults])
    by_meter: dict[int, list[MeterFault]] = {}
    for fault in faults:
        by_meter.setdefault(fault.meter_id, []).append(fault)
    items = []
    for row in rows:
        reasons = [
            name
            for name, flag in (
                ("fault", row.open_faults > 0),
                ("device_alarm", any(kind != "stuck" for kind in row.incidents)),
                # Zero use with nobody declared away: read the register, it may be stuck.
                ("check_register", "stuck" in row.incidents),
                ("silent", row.is_silent),
                ("due", row.is_due),
            )
            if flag
        ]
        items.append(RoundItem(row, reasons, by_meter.get(row.id, [])))
    return items
