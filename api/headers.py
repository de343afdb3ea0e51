"""Security headers on every response: pages, JSON, static files, errors, metrics.

A pure ASGI middleware (not ``BaseHTTPMiddleware``) so streamed bodies and background tasks pass
through untouched. The pages load scripts and styles from ``/static`` only, with no inline script,
handler or style attribute, so the policy allows nothing else. The OpenAPI pages FastAPI serves
(``/docs``, ``/redoc``) load Swagger UI and ReDoc from their CDN with an inline bootstrap script:
they get a policy that allows exactly that, and no page of ours does.

The ``secure`` package builds the same headers; a per-path policy needs this middleware anyway,
and four constant headers are not worth a dependency.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
_CDN = "https://cdn.jsdelivr.net"
DOCS_CSP = "; ".join(
    [
        "default-src 'self'",
        f"script-src 'self' {_CDN} 'unsafe-inline'",
        f"style-src 'self' {_CDN} https://fonts.googleapis.com 'unsafe-inline'",
        "font-src 'self' https://fonts.gstatic.com",
        "img-src 'self' data: https://fastapi.tiangolo.com",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
COMMON = {
    # frame-ancestors 'none' in the policy; this for browsers that predate it.
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Paths carry ids (/invoices/42): other sites learn nothing of them.
    "Referrer-Policy": "same-origin",
}
# Not Cross-Origin-Opener-Policy: with `same-origin`, Chromium dropped the portal's data export
# (a download of a blob: URL), seen in tests/web/test_portal.py.


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, docs_paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.docs_paths = docs_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = DOCS_CSP if scope["path"] in self.docs_paths else CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = policy
                for name, value in COMMON.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
