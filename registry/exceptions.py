"""Registry errors.

Tree::

    NotFound (404)
    ├── MeterNotFound
    ├── BuildingNotFound
    ├── DwellingNotFound
    └── MeterImportNotFound     a meter file's import job finds it gone (done already)
    Conflict (409)
    └── MeterAlreadyRemoved     a removed meter cannot be replaced or reassigned
    InvalidInput (422)
    └── InvalidMeterFile        one message per bad line of an operator's CSV, or too many lines
    Unavailable (503)
    └── BrokerAuthUnavailable   meter credentials cannot reach the broker's password file
"""

from __future__ import annotations

from core.exceptions import Conflict, InvalidInput, NotFound, Unavailable


class MeterNotFound(NotFound):
    pass


class MeterAlreadyRemoved(Conflict):
    pass


class InvalidMeterFile(InvalidInput):
    pass


class BuildingNotFound(NotFound):
    pass


class DwellingNotFound(NotFound):
    pass


class BrokerAuthUnavailable(Unavailable):
    pass


class MeterImportNotFound(NotFound):
    pass
