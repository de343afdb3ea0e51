"""Billing periods as operators name them: ``YYYY-MM``, the calendar month."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from billing.close.exceptions import InvalidPeriod

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Period:
    label: str
    start: date
    end: date  # last day included

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def parse_period(label: str) -> Period:
    """``YYYY-MM`` as the calendar month it names."""
    match = _MONTH.match(label)
    if match is None:
        raise InvalidPeriod(f"period {label!r} is not YYYY-MM")
    year, month = int(match[1]), int(match[2])
    if not 1 <= month <= 12 or year < 2000:
        raise InvalidPeriod(f"period {label!r} is not a month (YYYY-MM, from 2000)")
    last_day = calendar.monthrange(year, month)[1]
    return Period(label, date(year, month, 1), date(year, month, last_day))
