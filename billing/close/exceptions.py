"""Close and hold-review errors (an unknown zone is ``billing.tariffs.exceptions.UnknownZone``).

Tree::

    core.exceptions.AppError
    ├── NotFound (404)
    │   └── HoldNotFound            no billing hold with this id
    ├── Conflict (409)
    │   └── HoldNotReleasable       only a tamper hold is released by review; others need data
    └── InvalidInput (422)
        └── InvalidPeriod           a period label that is not YYYY-MM
"""

from __future__ import annotations

from core.exceptions import Conflict, InvalidInput, NotFound


class HoldNotFound(NotFound):
    pass


class HoldNotReleasable(Conflict):
    pass


class InvalidPeriod(InvalidInput):
    pass
