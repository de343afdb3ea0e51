"""Device alarms: their names on the wire and their bits in ``reading.alarms``."""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntFlag, StrEnum


class AlarmName(StrEnum):
    LEAK = "leak"
    BURST = "burst"
    BACKFLOW = "backflow"
    TAMPER = "tamper"
    DRY = "dry"
    LOW_BATTERY = "low_battery"


class Alarm(IntFlag):
    """Device alarms as stored in ``reading.alarms`` (one bit each)."""

    NONE = 0
    LEAK = 1
    BURST = 2
    BACKFLOW = 4
    TAMPER = 8
    DRY = 16
    LOW_BATTERY = 32

    def names(self) -> list[AlarmName]:
        return [AlarmName[flag.name] for flag in Alarm if flag and flag in self and flag.name]


# Plain ints keyed by name: building an IntFlag per reading costs more than decoding it.
_BITS = {name.value: int(Alarm[name.name]) for name in AlarmName}


def alarm_bits(names: Iterable[str]) -> int:
    """The ``reading.alarms`` bit set of alarm names (a repeated name counts once)."""
    bits = 0
    for name in names:
        bits |= _BITS[name]
    return bits
