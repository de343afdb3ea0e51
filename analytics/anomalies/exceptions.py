"""Errors of the anomaly scan (and of the forecast, which names meters the same way).

Tree::

    core.exceptions.NotFound (404)
    └── UnknownMeters (a scan or forecast named meters that do not exist)
    core.exceptions.InvalidInput (422)
    └── UnknownPartition (a scan job named a partition outside the configured count)
"""

from __future__ import annotations

from collections.abc import Sequence

from core.exceptions import InvalidInput, NotFound


class UnknownMeters(NotFound):
    def __init__(self, meter_ids: Sequence[int]) -> None:
        super().__init__(f"no meter with id {', '.join(str(m) for m in meter_ids)}")
        self.meter_ids = list(meter_ids)


class UnknownPartition(InvalidInput):
    def __init__(self, partition: int, partitions: int) -> None:
        super().__init__(f"partition {partition} is not one of 0-{partitions - 1}")
