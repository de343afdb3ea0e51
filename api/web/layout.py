"""The page shell: one HTML layout for every view, rendered in the user's language.

A view registers its pages with ``add_page``; the shell adds the header (name, nav, language,
sign-out), the inline boot data (messages, locale, money conventions, who may see the page) and the
view's script. Pages carry no data: scripts fetch it from the API with the user's token.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from accounts.models import Role
from api.web.i18n import (
    COMMON,
    LANGUAGES,
    Catalog,
    Msg,
    Translator,
    client_messages,
    intl_locale,
    request_language,
)
from core.countries import Language
from core.money import format_conventions

STATIC_DIR = Path(__file__).parent / "static"

Body = Callable[[Translator], str]


@dataclass(frozen=True, slots=True)
class NavItem:
    """A header link shown to the given roles (all signed-in users when empty)."""

    path: str
    label: str
    roles: tuple[Role, ...] = ()
    order: int = 50


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a view.

    Args:
        title: message key of the page title.
        script: module under static/js (without ``.js``) that runs the page, or None.
        body: the main content, given the translator (escape what is not a message).
        roles: who may open it; None for public pages (sign-in), () for any signed-in user.
        messages: the view's catalog; sent to the browser with the common messages.
    """

    title: str
    body: Body
    script: str | None = None
    roles: tuple[Role, ...] | None = ()
    messages: Catalog = field(default_factory=dict)
    styles: tuple[str, ...] = ()


@dataclass
class Site:
    """Every view's messages and nav entries, filled as the page modules register."""

    catalog: dict[str, Msg] = field(default_factory=lambda: dict(COMMON))
    nav: list[NavItem] = field(default_factory=list)


SITE = Site()


def add_nav(*items: NavItem) -> None:
    """Put links in the header (shown to their roles by the shell script)."""
    SITE.nav.extend(items)


@cache
def asset_version(relative: str) -> str:
    """A short content hash for ``?v=``: browsers may cache an asset until it changes."""
    data = (STATIC_DIR / relative).read_bytes()
    return hashlib.sha256(data).hexdigest()[:10]


def static_url(relative: str) -> str:
    return f"/static/{relative}?v={asset_version(relative)}"


def _nav(site: Site, t: Translator, current: str) -> str:
    links = []
    for item in sorted(site.nav, key=lambda i: (i.order, i.path)):
        roles = " ".join(r.value for r in item.roles)
        here = ' aria-current="page"' if item.path == current else ""
        links.append(
            f'<li data-roles="{roles}" hidden><a href="{html.escape(item.path)}"{here}>'
            f"{t(item.label)}</a></li>"
        )
    return "".join(links)


def _language_form(t: Translator, current: Language, path: str) -> str:
    names = {Language.EN: "English", Language.FR: "Français", Language.TPI: "Tok Pisin"}
    options = "".join(
        f'<option value="{lang.value}" lang="{lang.value}"'
        f"{' selected' if lang is current else ''}>{names[lang]}</option>"
        for lang in LANGUAGES
    )
    return (
        f'<form class="lang" method="get" action="/lang" id="lang-form">'
        f'<label for="lang-select">{t("app.language")}</label> '
        f'<select id="lang-select" name="set">{options}</select>'
        f'<input type="hidden" name="next" value="{html.escape(path)}">'
        f'<button type="submit" class="js-hide">{t("app.change")}</button></form>'
    )


def render(request: Request, page: Page) -> HTMLResponse:
    """The full HTML of ``page`` in the request's language."""
    language = request_language(request)
    t = Translator(language, SITE.catalog)
    country: str = request.app.state.settings.default_country
    path = request.url.path
    boot = {
        "lang": language.value,
        "locale": intl_locale(language, country),
        "country": country,
        "money": format_conventions(language.value),
        "roles": None if page.roles is None else [r.value for r in page.roles],
        "messages": client_messages(language, (COMMON, page.messages)),
        "params": dict(request.path_params),
    }
    # "</" cannot close the script element from inside the JSON.
    boot_json = json.dumps(boot, ensure_ascii=False).replace("</", "<\\/")
    styles = "".join(
        f'<link rel="stylesheet" href="{static_url(s)}">' for s in ("css/base.css", *page.styles)
    )
    script = (
        f'<script type="module" src="{static_url(f"js/{page.script}.js")}"></script>'
        if page.script
        else f'<script type="module" src="{static_url("js/shell.js")}"></script>'
    )
    title = t(page.title)
    # core.js is preloaded at the URL the page modules import it by ("./core.js", no version
    # query): a versioned preload was a second download of it.
    body = f"""<!doctype html>
<html lang="{language.value}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>{title} · {t("app.name")}</title>
<link rel="icon" href="{static_url("img/icon.svg")}" type="image/svg+xml">
{styles}
<link rel="modulepreload" href="/static/js/core.js">
<script type="application/json" id="boot">{boot_json}</script>
</head>
<body class="{"public" if page.roles is None else "private"}">
<a class="skip" href="#main">{t("app.skip")}</a>
<header class="top">
<a class="brand" href="/">{t("app.name")}</a>
<nav aria-label="{t("app.menu")}"><ul id="nav">{_nav(SITE, t, path)}</ul></nav>
<div class="tools">{_language_form(t, language, path)}
<button type="button" id="signout" class="link" hidden>{t("app.signout")}</button></div>
</header>
<main id="main" tabindex="-1">
<h1>{title}</h1>
<p id="status" role="status" aria-live="polite" class="status"></p>
{page.body(t)}
</main>
{script}
</body>
</html>"""
    return HTMLResponse(body, headers={"Cache-Control": "no-cache", "Vary": "Cookie"})


def add_page(router: APIRouter, path: str, page: Page, *, name: str) -> None:
    """Register ``page`` at ``path`` (GET) on ``router``, and its messages with the site."""
    for key, msg in page.messages.items():
        if SITE.catalog.setdefault(key, msg) != msg:
            raise ValueError(f"message {key!r} is defined twice, differently: prefix it by view")

    async def endpoint(request: Request) -> HTMLResponse:
        return render(request, page)

    endpoint.__name__ = name
    router.add_api_route(
        path, endpoint, methods=["GET"], response_class=HTMLResponse, include_in_schema=False
    )
