"""Report errors.

Tree::

    core.exceptions.AppError
    └── InvalidInput (422)
        └── InvalidReport           a report asked for with impossible bounds
"""

from __future__ import annotations

from core.exceptions import InvalidInput


class InvalidReport(InvalidInput):
    pass
