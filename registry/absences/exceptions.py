"""Absence errors.

Tree::

    NotFound (404)
    └── AbsenceNotFound         no such absence on this dwelling (or already cancelled)
    InvalidInput (422)
    └── InvalidAbsence          dates in the wrong order, in the past, or longer than allowed
"""

from __future__ import annotations

from core.exceptions import InvalidInput, NotFound


class AbsenceNotFound(NotFound):
    pass


class InvalidAbsence(InvalidInput):
    """``rule`` names the rule broken (order, past, too_long, too_far), for replies in words
    other than the English ``message``."""

    def __init__(self, message: str, *, rule: str) -> None:
        super().__init__(message)
        self.rule = rule
