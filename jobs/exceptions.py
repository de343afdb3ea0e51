"""Errors of the job queue as the API drives it.

Tree::

    NotFound (404)
    └── JobNotFound
    Conflict (409)
    └── JobNotRetryable
"""

from __future__ import annotations

from core.exceptions import Conflict, NotFound


class JobNotFound(NotFound):
    pass


class JobNotRetryable(Conflict):
    """Not failed (nor cancelled), or the same work already waits in the queue."""
