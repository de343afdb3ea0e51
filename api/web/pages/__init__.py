"""The views: every module here defines a ``router`` of pages, found by walking the package.

A new view is a new module (and its ``static/js/<view>.js``): nothing else to edit, no shared list
for parallel work to collide on. Its paths become public (``permissions.PUBLIC_PATHS``) because
pages are shells; the data they show comes from the protected API.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from fastapi import APIRouter


@cache
def routers() -> tuple[APIRouter, ...]:
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            found.append(router)
    return tuple(found)


def page_paths() -> frozenset[str]:
    """Every page path (route templates such as ``/operator/meters/{meter_id}``)."""
    return frozenset(getattr(route, "path", "") for router in routers() for route in router.routes)
