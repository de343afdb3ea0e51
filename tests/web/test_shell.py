"""The page shell without a browser: catalogs complete, every page renders in every language,
assets are cached by version, the language switcher cannot redirect off-site."""

from __future__ import annotations

import re

import httpx
import pytest

from api.auth.guards import PUBLIC_PATHS
from api.web.i18n import Msg
from api.web.layout import SITE, STATIC_DIR
from api.web.pages import page_paths
from core.countries import Language

pytestmark = pytest.mark.services


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


class TestCatalogs:
    def test_every_message_has_all_three_languages(self):
        missing = [
            f"{key}.{lang.value}"
            for key, msg in SITE.catalog.items()
            for lang in Language
            if not isinstance(msg, Msg) or not msg.get(lang).strip()
        ]
        assert missing == []

    def test_placeholders_match_across_languages(self):
        wrong = [
            key
            for key, msg in SITE.catalog.items()
            if len({frozenset(re.findall(r"\{\w+\}", msg.get(lang))) for lang in Language}) > 1
        ]
        assert wrong == []


class TestPages:
    def test_pages_are_public_shells(self):
        assert page_paths() <= PUBLIC_PATHS

    @pytest.mark.parametrize("language", list(Language))
    async def test_every_page_renders_in_every_language(
        self, client: httpx.AsyncClient, language: Language
    ):
        for path in sorted(page_paths()):
            answer = await client.get(
                concrete(path), headers={"Cookie": f"wb_lang={language.value}"}
            )
            assert answer.status_code == 200, path
            if not answer.headers["content-type"].startswith("text/html"):
                continue  # a view's script served beside its pages (a service worker)
            assert f'<html lang="{language.value}">' in answer.text
            for asset in re.findall(r'(?:href|src)="/static/([^"?]+)\?v=', answer.text):
                assert (STATIC_DIR / asset).is_file(), f"{path} links a missing {asset}"

    async def test_the_browser_language_is_used_without_a_choice(self, client: httpx.AsyncClient):
        answer = await client.get("/signin", headers={"Accept-Language": "fr-CM,fr;q=0.9"})
        assert '<html lang="fr">' in answer.text
        assert "Numéro de mobile" in answer.text

    async def test_versioned_assets_are_cached_for_long(self, client: httpx.AsyncClient):
        answer = await client.get("/static/js/core.js?v=abc")
        assert answer.status_code == 200
        assert "immutable" in answer.headers["cache-control"]


class TestLanguageSwitch:
    async def test_sets_the_cookie_and_goes_back(self, client: httpx.AsyncClient):
        answer = await client.get("/lang", params={"set": "tpi", "next": "/signin"})
        assert answer.status_code == 303
        assert answer.headers["location"] == "/signin"
        assert "wb_lang=tpi" in answer.headers["set-cookie"]

    @pytest.mark.parametrize(
        "target", ["//evil.example/x", "https://evil.example/", "javascript:x"]
    )
    async def test_never_redirects_off_site(self, client: httpx.AsyncClient, target: str):
        answer = await client.get("/lang", params={"set": "fr", "next": target})
        assert answer.headers["location"] == "/"

    async def test_an_unknown_language_is_a_422(self, client: httpx.AsyncClient):
        answer = await client.get("/lang", params={"set": "de"})
        assert answer.status_code == 422
