"""How the server judges a manual reading against what it already knows (pure, no I/O).

Rules, in order (the first rejection wins; warnings accumulate):

1. outside the meter's life (before installation, after removal): ``rejected``
   (``meter_not_installed``);
2. a manual reading at the same instant already exists: the same index is a ``duplicate``
   (nothing new is stored), another index is ``rejected`` (``conflicts_with_manual``);
3. against the previous reading (connected or manual): a lower index is accepted with a warning
   when within ``tolerance_l`` (a register read to the display's precision) or when the register
   plausibly wrapped past ``10**register_digits``, else ``rejected`` (``index_below_previous``); a
   rise faster than ``max_flow_lph`` is ``rejected`` (``index_jump``);
4. against the next reading: higher by more than ``tolerance_l`` is ``rejected``
   (``index_above_next``): a later read cannot show less water;
5. against the meter's own reading closest in time within the match window: a difference over
   ``tolerance_l`` is accepted with a warning (``differs_from_meter``), for an operator to check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    ACCEPTED_WITH_WARNING = "accepted_with_warning"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(frozen=True)
class KnownReading:
    time: datetime
    index_l: int
    source: str


@dataclass(frozen=True)
class Context:
    """What the database knows around the new reading."""

    installed_at: datetime
    removed_at: datetime | None
    register_digits: int
    same_time_manual: KnownReading | None
    previous: KnownReading | None
    next: KnownReading | None
    nearest_meter_reading: KnownReading | None


@dataclass(frozen=True)
class Limits:
    max_flow_lph: float
    tolerance_l: int


@dataclass
class Decision:
    outcome: Outcome
    reason: str | None = None
    message: str = ""
    warnings: list[dict[str, str]] = field(default_factory=list)


def _when(reading: KnownReading) -> str:
    return f"{reading.source} reading of {reading.time.isoformat()}"


def decide(time: datetime, index_l: int, context: Context, limits: Limits) -> Decision:
    if time < context.installed_at or (
        context.removed_at is not None and time >= context.removed_at
    ):
        return Decision(
            Outcome.REJECTED,
            "meter_not_installed",
            f"the meter was not installed at {time.isoformat()}",
        )
    same = context.same_time_manual
    if same is not None:
        if same.index_l == index_l:
            return Decision(
                Outcome.DUPLICATE, None, "this reading is already stored (same time, same index)"
            )
        return Decision(
            Outcome.REJECTED,
            "conflicts_with_manual",
            f"another manual reading at this time says {same.index_l} L, not {index_l} L",
        )
    warnings: list[dict[str, str]] = []
    modulus = 10**context.register_digits
    previous = context.previous
    if previous is not None:
        hours = max((time - previous.time).total_seconds(), 0) / 3600
        allowed = limits.max_flow_lph * hours
        if index_l < previous.index_l:
            drop = previous.index_l - index_l
            wrapped_step = index_l + modulus - previous.index_l
            if drop <= limits.tolerance_l:
                warnings.append(
                    {
                        "code": "below_previous",
                        "message": f"{drop} L below the {_when(previous)}, within tolerance",
                    }
                )
            elif wrapped_step <= allowed:
                warnings.append(
                    {
                        "code": "register_wrapped",
                        "message": f"the register wrapped past {modulus} L since the"
                        f" {_when(previous)}",
                    }
                )
            else:
                return Decision(
                    Outcome.REJECTED,
                    "index_below_previous",
                    f"index {index_l} L is lower than the {_when(previous)} ({previous.index_l} L)",
                )
        elif index_l - previous.index_l > allowed:
            return Decision(
                Outcome.REJECTED,
                "index_jump",
                f"index {index_l} L is {index_l - previous.index_l} L above the {_when(previous)}:"
                f" more than {limits.max_flow_lph:g} L/h could deliver",
            )
    following = context.next
    if following is not None and index_l - following.index_l > limits.tolerance_l:
        return Decision(
            Outcome.REJECTED,
            "index_above_next",
            f"index {index_l} L is higher than the later {_when(following)}"
            f" ({following.index_l} L)",
        )
    nearest = context.nearest_meter_reading
    if nearest is not None and abs(nearest.index_l - index_l) > limits.tolerance_l:
        warnings.append(
            {
                "code": "differs_from_meter",
                "message": f"the meter itself reported {nearest.index_l} L at"
                f" {nearest.time.isoformat()} ({index_l - nearest.index_l:+d} L)",
            }
        )
    if warnings:
        return Decision(
            Outcome.ACCEPTED_WITH_WARNING,
            warnings[0]["code"],
            "stored with a warning: " + "; ".join(w["message"] for w in warnings),
            warnings,
        )
    return Decision(Outcome.ACCEPTED, None, "stored")
