"""What a close measures per dwelling from its meters' boundary indexes: the volume (summed
over replacements, across register wraps), whether an index was estimated, and reasons to hold
it back instead of billing it (rules in ``billing.close.service``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from billing.close.models import HoldReason
from billing.close.repository import MeterBoundary


@dataclass
class MeasuredDwelling:
    meters: list[MeterBoundary]
    holds: list[tuple[int | None, HoldReason, str]]
    volume_l: int = 0
    estimated: bool = False


def measure(
    meters: Iterable[MeterBoundary], *, released_tamper: set[int]
) -> dict[int, MeasuredDwelling]:
    """Group meters by dwelling: summed volume, estimated flag, and reasons to hold."""
    dwellings: dict[int, MeasuredDwelling] = {}
    for meter in meters:
        measured = dwellings.setdefault(meter.dwelling_id, MeasuredDwelling(meters=[], holds=[]))
        measured.meters.append(meter)
        for reason, detail in _hold_reasons(meter, released_tamper=released_tamper):
            measured.holds.append((meter.meter_id, reason, detail))
        volume = meter_volume(meter)
        if volume is not None:
            measured.volume_l += volume
        measured.estimated |= bool(meter.opening_estimated) or bool(meter.closing_estimated)
    return dwellings


def meter_volume(meter: MeterBoundary) -> int | None:
    """Closing minus opening index, across a register wrap; None when unknown or negative."""
    if meter.opening_index is None or meter.closing_index is None:
        return None
    step = meter.closing_index - meter.opening_index
    if step >= 0:
        return step
    if step + meter.modulus < meter.modulus // 2:
        return step + meter.modulus
    return None


def _hold_reasons(
    meter: MeterBoundary, *, released_tamper: set[int]
) -> Iterable[tuple[HoldReason, str]]:
    if meter.tamper and meter.dwelling_id not in released_tamper:
        yield HoldReason.TAMPER, f"meter {meter.meter_id}: tamper alarm during the period"
    if meter.rollup_pending:
        yield HoldReason.ROLLUP_PENDING, f"meter {meter.meter_id}: readings not rolled up yet"
    if meter.opening_index is None or meter.closing_index is None:
        which = "opening" if meter.opening_index is None else "closing"
        yield (
            HoldReason.MISSING_READING,
            f"meter {meter.meter_id}: no reading at or after the {which} boundary",
        )
    elif meter.negative_step or meter_volume(meter) is None:
        yield (
            HoldReason.NEGATIVE_STEP,
            f"meter {meter.meter_id}: the register went back during the period",
        )
