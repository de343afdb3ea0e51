"""Hole 11 of issue 14: security headers on every kind of response."""

import pytest

from api.headers import CSP, DOCS_CSP
from api.web.pages import routers

pytestmark = pytest.mark.services

PAGE_POLICY = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def assert_secured(answer, policy: str = CSP) -> None:
    for name, value in {**PAGE_POLICY, "Content-Security-Policy": policy}.items():
        assert answer.headers.get(name) == value, (answer.request.url, name)


class TestEveryResponseKind:
    @pytest.mark.parametrize(
        ("method", "path", "status", "kind"),
        [
            ("GET", "/health/live", 200, "application/json"),
            ("GET", "/signin", 200, "text/html"),
            ("GET", "/static/css/base.css", 200, "text/css"),
            ("GET", "/static/js/core.js", 200, "javascript"),
            ("GET", "/metrics/", 200, "text/plain"),
            ("GET", "/openapi.json", 200, "application/json"),
            ("GET", "/no/such/page", 404, "application/json"),
            ("GET", "/static/nothing.js", 404, "application/json"),
            ("GET", "/invoices", 401, "application/json"),
            ("POST", "/auth/login", 422, "application/json"),
        ],
    )
    async def test_carries_the_headers(self, client, method, path, status, kind):
        answer = await client.request(method, path, json={} if method == "POST" else None)
        assert answer.status_code == status
        assert kind in answer.headers["content-type"]
        assert_secured(answer)

    async def test_a_redirect_and_a_gzipped_body_too(self, client):
        redirect = await client.get("/lang", params={"set": "fr", "next": "/signin"})
        assert redirect.status_code == 303
        assert_secured(redirect)
        big = await client.get("/static/js/core.js", headers={"Accept-Encoding": "gzip"})
        assert big.headers["content-encoding"] == "gzip"
        assert_secured(big)


class TestPolicy:
    def test_the_pages_policy_allows_no_inline_script_or_style_and_no_framing(self):
        assert "'unsafe-inline'" not in CSP
        assert "'unsafe-eval'" not in CSP
        assert "script-src 'self';" in CSP
        assert "frame-ancestors 'none'" in CSP

    async def test_only_the_openapi_pages_get_the_cdn_policy(self, client):
        for path in ("/docs", "/redoc"):
            answer = await client.get(path)
            assert answer.status_code == 200
            assert_secured(answer, DOCS_CSP)
        assert "frame-ancestors 'none'" in DOCS_CSP

    async def test_no_page_of_ours_has_inline_script_or_handlers(self, client):
        pages = {getattr(route, "path", "") for router in routers() for route in router.routes}
        pages = {p.replace("{meter_id}", "1") for p in pages if p and not p.endswith(".js")}
        assert len(pages) >= 10
        for path in sorted(pages):
            answer = await client.get(path)
            assert answer.status_code == 200, path
            assert_secured(answer)
            body = answer.text
            scripts = body.count("<script")
            assert scripts == body.count('<script type="module" src=') + body.count(
                '<script type="application/json"'
            ), path
            assert " onsubmit=" not in body, path
            assert " onclick=" not in body, path
            assert " style=" not in body, path


class TestUnexpectedError:
    """A bug that escapes every handler still answers with the headers, and tells nothing."""

    async def test_a_500_carries_the_headers_and_a_json_body_without_the_traceback(
        self, admin_client, monkeypatch, caplog
    ):
        from billing.tariffs import service as tariff_service

        async def broken(*_args, **_kwargs):
            raise RuntimeError("secret detail of the bug")

        monkeypatch.setattr(tariff_service, "list_tariff_versions", broken)
        answer = await admin_client.get("/tariffs", params={"country_code": "CM"})
        assert answer.status_code == 500
        assert answer.headers["content-type"] == "application/json"
        assert answer.json() == {"error": "InternalError", "detail": "An unexpected error occurred"}
        assert_secured(answer)
        assert "secret detail" not in answer.text
        assert "secret detail of the bug" in caplog.text
