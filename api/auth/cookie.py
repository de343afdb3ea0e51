"""The web app's session: the refresh token in an HttpOnly cookie, the access token in memory.

The pages send ``X-WaterBill-Session: cookie``: sign-in, activation and refresh then set the
refresh token in the ``wb_refresh`` cookie and leave it out of the JSON, so no script on the page,
injected or ours, ever holds the long-lived credential; refresh and logout read it back. API
clients send no such header and keep the refresh token in the JSON body both ways.

A cookie travels by itself, so where one authenticates, the request must show it comes from our
own pages: the custom header (a page of another site cannot send it without a CORS preflight, and
the app answers none) and, when the browser names them, ``Sec-Fetch-Site: same-origin`` and an
``Origin`` whose host is the request's ``Host``. ``SameSite=Strict`` already keeps the cookie off
cross-site requests; these checks hold where it does not (old browsers, a sibling subdomain).
Ref: https://cheatsheetseries.owasp.org/cheatsheets/Cross-Site_Request_Forgery_Prevention_Cheat_Sheet.html
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import Body, Cookie, Depends, Header, Request, Response

from accounts.exceptions import CsrfRejected
from accounts.schemas import RefreshIn
from core.config import Settings
from core.exceptions import NotAuthenticated

COOKIE = "wb_refresh"
HEADER = "X-WaterBill-Session"
# The one path both readers (refresh, logout) share; the other /auth routes ignore the cookie and
# the data API never receives it.
PATH = "/auth"

SessionMode = Annotated[
    Literal["cookie"] | None,
    Header(
        alias=HEADER,
        description="`cookie` from the web app: the refresh token travels in the HttpOnly"
        f" `{COOKIE}` cookie only (set on success, read by refresh and logout), never in JSON.",
    ),
]
RefreshCookie = Annotated[
    str | None,
    Cookie(
        alias=COOKIE,
        max_length=4096,
        description="The web app's refresh token; honoured only with"
        f" `{HEADER}: cookie` from this site's own pages (403 `CsrfRejected` otherwise).",
    ),
]

SET_COOKIE_DOC: dict[str, Any] = {
    "Set-Cookie": {
        "description": f"With `{HEADER}: cookie`: `{COOKIE}=<refresh token>; HttpOnly; Secure;"
        f" SameSite=Strict; Path={PATH}; Max-Age=<refresh lifetime>`.",
        "schema": {"type": "string"},
    }
}
CLEAR_COOKIE_DOC: dict[str, Any] = {
    "Set-Cookie": {
        "description": f'When the request carried the cookie: `{COOKIE}=""; Max-Age=0` (cleared).',
        "schema": {"type": "string"},
    }
}


def set_refresh_cookie(response: Response, token: str, *, settings: Settings) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=settings.auth.refresh_token_days * 86_400,
        path=PATH,
        secure=settings.auth.cookie_secure,
        httponly=True,
        samesite="strict",
    )


def clear_refresh_cookie(response: Response, *, settings: Settings) -> None:
    response.delete_cookie(
        COOKIE, path=PATH, secure=settings.auth.cookie_secure, httponly=True, samesite="strict"
    )


def check_same_site(request: Request, mode: str | None) -> None:
    """Refuse a cookie-authenticated call that may come from another site's page.

    Raises:
        CsrfRejected: no ``X-WaterBill-Session: cookie`` header, or the browser says the call
            comes from another origin.
    """
    if mode != "cookie":
        raise CsrfRejected(
            f"the {COOKIE} cookie is honoured only with the header '{HEADER}: cookie'"
        )
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site != "same-origin":
        raise CsrfRejected(f"the {COOKIE} cookie is honoured only from this site's pages")
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise CsrfRejected(f"the {COOKIE} cookie is honoured only from this site's pages")


@dataclass(frozen=True)
class PresentedRefresh:
    """The refresh token a call presents, and how: refresh and logout read it the same way."""

    token: str
    by_cookie: bool  # the cookie carried it (a JSON body wins over a cookie)
    cookie_sent: bool
    mode: Literal["cookie"] | None


def presented_refresh(
    request: Request,
    body: Annotated[RefreshIn | None, Body()] = None,
    cookie: RefreshCookie = None,
    mode: SessionMode = None,
) -> PresentedRefresh:
    """The refresh token of the call: the JSON body wins (an API client); else the cookie, from
    our own pages only."""
    if body is not None:
        return PresentedRefresh(body.refresh_token, False, bool(cookie), mode)
    if cookie:
        check_same_site(request, mode)
        return PresentedRefresh(cookie, True, True, mode)
    raise NotAuthenticated(
        f"no refresh token: send it in the JSON body, or from the web app in the {COOKIE} cookie"
    )


Presented = Annotated[PresentedRefresh, Depends(presented_refresh)]
