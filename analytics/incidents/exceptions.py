"""Errors of a person's actions on incidents.

Tree::

    core.exceptions.NotFound (404)
    └── IncidentNotFound (no such incident, or not one the user may see)
    core.exceptions.Conflict (409)
    └── IncidentAlreadyClosed (a person closed it already)
    core.exceptions.InvalidInput (422)
    ├── NoteRequired (closing a still-ongoing incident needs a note saying why)
    └── AssigneeNotFound (an incident goes to an active administrator or technician only)
"""

from __future__ import annotations

from core.exceptions import Conflict, InvalidInput, NotFound


class IncidentNotFound(NotFound):
    pass


class IncidentAlreadyClosed(Conflict):
    pass


class NoteRequired(InvalidInput):
    pass


class AssigneeNotFound(InvalidInput):
    pass
