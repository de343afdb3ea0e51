"""The SMS keywords of holiday mode, in the three languages, parsed without I/O.

``AWAY 2026-12-20 2027-01-05`` (or ``ABSENT``, French, or ``HOLIDE``, Tok Pisin) declares an
absence; with one date it starts today. ``BACK`` / ``RETOUR`` / ``KAMBEK`` cancels the absences
not over yet. Dates are ISO (2026-12-20) or day first (20/12/2026, 20-12-2026), as written in
Papua New Guinea and Cameroon.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

AWAY_WORDS = frozenset({"AWAY", "ABSENT", "ABSENCE", "HOLIDAY", "HOLIDE", "VACANCES"})
BACK_WORDS = frozenset({"BACK", "RETOUR", "KAMBEK"})
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DAY_FIRST = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")


@dataclass(frozen=True)
class Away:
    from_date: date | None  # None: from today
    to_date: date


@dataclass(frozen=True)
class Back:
    pass


@dataclass(frozen=True)
class Unreadable:
    """Not a holiday-mode message, or its dates cannot be read: the reply is the help text."""


Command = Away | Back | Unreadable


def parse_date(text: str) -> date | None:
    """An ISO or day-first date, or None when it is not a real date."""
    if match := _ISO.match(text):
        year, month, day = (int(g) for g in match.groups())
    elif match := _DAY_FIRST.match(text):
        day, month, year = (int(g) for g in match.groups())
    else:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse(body: str) -> Command:
    """What an inbound SMS asks (case and extra spaces do not matter)."""
    words = body.upper().split()
    if not words:
        return Unreadable()
    keyword, args = words[0], words[1:]
    if keyword in BACK_WORDS and not args:
        return Back()
    if keyword not in AWAY_WORDS or len(args) not in (1, 2):
        return Unreadable()
    dates = [d for d in (parse_date(arg) for arg in args) if d is not None]
    if len(dates) != len(args):
        return Unreadable()
    return Away(from_date=dates[0] if len(dates) == 2 else None, to_date=dates[-1])
