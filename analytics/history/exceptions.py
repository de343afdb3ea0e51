"""Errors of the history reads.

Tree::

    core.exceptions.NotFound (404)
    └── ScopeNotFound        no zone, building or meter with this id
    core.exceptions.InvalidInput (422)
    └── InvalidWindow        a custom window without dates, reversed or too long; two scopes
"""

from __future__ import annotations

from core.exceptions import InvalidInput, NotFound


class ScopeNotFound(NotFound):
    pass


class InvalidWindow(InvalidInput):
    pass
