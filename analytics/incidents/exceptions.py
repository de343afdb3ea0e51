"""Errors of the analytics package.

Tree::

    core.exceptions.NotFound (404)
    ├── UnknownMeters (a scan or forecast named meters that do not exist)
    └── IncidentNotFound (no such incident, or not one the user may see)
    core.exceptions.Conflict (409)
    └── IncidentAlreadyClosed (a person closed it already)
    core.exceptions.InvalidInput (422)
    ├── InvalidTimeRange
    ├── NoteRequired (closing a still-ongoing incident needs a note saying why)
    └── NotEnoughHistory (too few days to forecast from)
"""

from __future__ import annotations

from collections.abc import Sequence

from core.exceptions import Conflict, InvalidInput, NotFound


class InvalidTimeRange(InvalidInput):
    """A requested time range is empty, reversed or too long."""


class IncidentNotFound(NotFound):
    pass


class IncidentAlreadyClosed(Conflict):
    pass


class NoteRequired(InvalidInput):
    pass


class UnknownMeters(NotFound):
    def __init__(self, meter_ids: Sequence[int]) -> None:
        super().__init__(f"no meter with id {', '.join(str(m) for m in meter_ids)}")
        self.meter_ids = list(meter_ids)


class NotEnoughHistory(InvalidInput):
    def __init__(self, meter_id: int, days: int, needed: int) -> None:
        super().__init__(
            f"meter {meter_id} has {days} days of consumption; a forecast needs {needed}"
        )
