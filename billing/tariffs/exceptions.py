"""Tariff errors.

Tree::

    core.exceptions.AppError
    ├── NotFound (404)
    │   ├── TariffNotFound          no tariff version with this id
    │   └── UnknownZone             no zone with this id (or code)
    ├── Conflict (409)
    │   ├── TariffMissing           no tariff in force for a zone on a date: nothing can be billed
    │   └── TariffVersionExists     a version already starts that day for that country/zone
    └── InvalidInput (422)
        ├── InvalidTariff           a tariff breaks a rule (blocks, prices, dates, currency)
        └── InvalidConsumption      a volume or period the tariff maths cannot bill
"""

from __future__ import annotations

from core.exceptions import Conflict, InvalidInput, NotFound


class TariffNotFound(NotFound):
    pass


class UnknownZone(NotFound):
    pass


class TariffMissing(Conflict):
    pass


class TariffVersionExists(Conflict):
    pass


class InvalidTariff(InvalidInput):
    pass


class InvalidConsumption(InvalidInput):
    pass
