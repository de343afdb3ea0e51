"""Web pages served by the API: HTML shells, vendored CSS/JS, message catalogs.

Pages are public shells (``permissions.PUBLIC_PATHS``); their data comes from the protected API,
called by the page's script with the signed-in user's token. Each view lives in its own module
under ``api.web.pages`` (routes, messages, nav entries) and its own ``static/js/<view>.js``.

Adding a view (nothing shared to edit):

1. ``api/web/pages/<view>.py``: ``router = APIRouter(include_in_schema=False)``, a ``MESSAGES``
   dict of ``Msg(en, fr, tpi)`` with keys prefixed ``<view>.``, ``add_nav(NavItem(...))`` and
   ``add_page(router, "/<view>", Page(title=..., body=..., script="<view>", roles=(Role.X,),
   messages=MESSAGES), name=...)``. The module is found by walking the package.
2. ``api/web/static/js/<view>.js``: ``import { startShell, api, t, fmt, el, table, guarded }
   from "./core.js"``; call ``startShell()`` first (header, language, role guard; returns the
   token's claims); charts with ``drawChart`` from ``./chart.js``.
3. Where each role lands after sign-in: ``auth.home`` in ``core.js``.
"""
