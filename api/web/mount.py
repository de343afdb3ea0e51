"""Serve the web pages and their static assets from the API app."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Query
from fastapi.responses import RedirectResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from api.web.i18n import LANG_COOKIE
from api.web.layout import STATIC_DIR
from api.web.pages import routers
from core.countries import Language

# A year: URLs carry the asset's content hash (``?v=``), so a new version is a new URL.
ASSET_MAX_AGE_S = 365 * 24 * 3600

shell = APIRouter(include_in_schema=False)


@shell.get("/lang")
async def set_language(
    lang: Annotated[Language, Query(alias="set")],
    next_path: Annotated[str, Query(alias="next")] = "/",
) -> RedirectResponse:
    """The language switcher without JavaScript: remember the choice, go back."""
    target = urlsplit(next_path)
    # Only a path on this site: never an open redirect.
    safe = target.path if target.path.startswith("/") and not target.netloc else "/"
    if safe.startswith("//"):
        safe = "/"
    response = RedirectResponse(safe, status_code=303)
    response.set_cookie(
        LANG_COOKIE, lang.value, max_age=ASSET_MAX_AGE_S, samesite="lax", httponly=False
    )
    return response


class CachedStatic(StaticFiles):
    """Static files with a long cache when the URL names the content's version."""

    async def get_response(self, path: str, scope: Scope):  # type: ignore[no-untyped-def]
        response = await super().get_response(path, scope)
        if b"v=" in scope.get("query_string", b"") and response.status_code == 200:
            response.headers["Cache-Control"] = f"public, max-age={ASSET_MAX_AGE_S}, immutable"
        else:
            response.headers.setdefault("Cache-Control", "no-cache")
        return response


def install_web(app: FastAPI) -> None:
    app.include_router(shell)
    for router in routers():
        app.include_router(router)
    app.mount("/static", CachedStatic(directory=STATIC_DIR), name="static")
