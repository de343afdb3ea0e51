"""The real clock, for tests whose subject reads it too (an HTTP route, a worker, SQL ``now()``).

Everything else passes fixed instants. ruff bans ``datetime.now``, ``date.today`` and
``time.time`` in tests (TID251) except here, so each use of the wall clock is a deliberate import
whose expectation must be relative to it; ``scripts/test-clock +400d`` runs the whole suite with
the machine's clock moved to prove that none depends on the date.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def now() -> datetime:
    return datetime.now(UTC)


def today() -> date:
    return now().date()


def epoch() -> float:
    return time.time()


def today_in(timezone: str) -> date:
    """Today in a place: from 23:00 UTC it is already tomorrow in Douala (UTC+1)."""
    return now().astimezone(ZoneInfo(timezone)).date()
