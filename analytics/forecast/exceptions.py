"""Errors of the consumption forecast.

Tree::

    core.exceptions.NotFound (404)
    └── analytics.anomalies.exceptions.UnknownMeters (no such meter)
    core.exceptions.InvalidInput (422)
    └── NotEnoughHistory (too few days to forecast from)
"""

from __future__ import annotations

from core.exceptions import InvalidInput


class NotEnoughHistory(InvalidInput):
    def __init__(self, meter_id: int, days: int, needed: int) -> None:
        super().__init__(
            f"meter {meter_id} has {days} days of consumption; a forecast needs {needed}"
        )
