"""Path and query parameters shared by the routers: ids and paging.

Every integer a client sends is bounded here, so an out-of-range one is a 422 rather than a
database error (PostgreSQL refuses an OFFSET or an id beyond bigint/integer with a 500).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from core.orm import MAX_ID

PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
FilterId = Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only rows of this id.")]
Limit = Annotated[int, Query(ge=1, le=1000, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="Rows to skip.")]
