"""Errors of the anomaly scan (and of the forecast, which names meters the same way).

Tree::

    core.exceptions.NotFound (404)
    └── UnknownMeters (a scan or forecast named meters that do not exist)
"""

from __future__ import annotations

from collections.abc import Sequence

from core.exceptions import NotFound


class UnknownMeters(NotFound):
    def __init__(self, meter_ids: Sequence[int]) -> None:
        super().__init__(f"no meter with id {', '.join(str(m) for m in meter_ids)}")
        self.meter_ids = list(meter_ids)
