"""How uvicorn serves the app: ``waterbill api`` (and so the image and compose) and the tests."""

from __future__ import annotations

import uvicorn

from api.app import create_app
from core.config import Settings


def uvicorn_config(
    settings: Settings, *, host: str | None = None, port: int | None = None
) -> uvicorn.Config:
    """The server's options from the settings.

    ``forwarded_allow_ips`` is always passed: uvicorn's own default trusts X-Forwarded-For from
    127.0.0.1, so anything on the machine (or a proxy that appends rather than replaces the
    header) could pick the client address the rate limits count by.
    """
    return uvicorn.Config(
        create_app(settings),
        host=host or settings.api.host,
        port=port or settings.api.port,
        proxy_headers=True,
        forwarded_allow_ips=[
            entry.strip() for entry in settings.api.forwarded_allow_ips.split(",") if entry.strip()
        ],
        log_config=None,
        access_log=False,
    )
