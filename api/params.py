"""Path and query parameters shared by the routers: ids and paging."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from core.orm import MAX_ID

PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=1000, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="Rows to skip.")]
