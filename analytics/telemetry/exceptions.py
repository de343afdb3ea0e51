"""Errors of the telemetry reads.

Tree::

    core.exceptions.InvalidInput (422)
    └── InvalidTimeRange
"""

from __future__ import annotations

from core.exceptions import InvalidInput


class InvalidTimeRange(InvalidInput):
    """A requested time range is empty, reversed or too long."""
