"""The README and the docs site stay true to the code: commands, links, generated pages, size."""

import importlib.util
import re
import shlex
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from cli.main import app
from core.config import settings_reference

ROOT = Path(__file__).parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PAGES = sorted(DOCS.glob("**/*.md"))
README_MAX_BYTES = 12 * 1024

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
INLINE = re.compile(r"`(waterbill [^`]+)`")
# A command inside a code block: at a line's start, or after `;`/`&&` as in a crontab line.
IN_BLOCK = re.compile(r"(?:^|;|&&)\s*(waterbill [^#\n]*)", re.MULTILINE)
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _commands(path: Path) -> list[str]:
    text = path.read_text()
    found = [m.group(1) for block in FENCE.findall(text) for m in IN_BLOCK.finditer(block)]
    return found + INLINE.findall(FENCE.sub("", text))


SHOWN = sorted(
    {
        (path.relative_to(ROOT).as_posix(), line)
        for path in [README, *PAGES]
        for line in _commands(path)
    }
)


def _words(line: str) -> list[str]:
    """A documented command line's words, without shell substitutions and `[optional]` marks."""
    line = re.sub(r"\$\([^)]*\)", "VALUE", line).replace("[", " ").replace("]", " ")
    return shlex.split(line)[1:]


class TestCommandsShown:
    def test_the_docs_show_commands(self):
        assert len(SHOWN) > 20

    @pytest.mark.parametrize(("page", "line"), SHOWN)
    def test_command_exists_with_the_options_shown(self, page, line):
        words = _words(line)
        # Typer ships its own copy of click: tell groups by their sub-commands, not by class.
        command: Any = typer.main.get_command(app)
        path: list[str] = []
        while hasattr(command, "commands") and words and not words[0].startswith("-"):
            if words[0].startswith("<"):  # a placeholder such as <command>
                return
            sub = command.commands.get(words[0])
            assert sub is not None, f"{page}: `waterbill {' '.join(path)}` has no {words[0]!r}"
            command, path = sub, [*path, words.pop(0)]
        known = {name for param in command.params for name in param.opts + param.secondary_opts}
        shown = {word.split("=")[0] for word in words if word.startswith("--")}
        assert shown - known - {"--help"} == set(), f"{page}: {line}"
        result = CliRunner().invoke(app, [*path, "--help"])
        assert result.exit_code == 0, result.output


class TestReadme:
    def test_is_at_most_12_kb(self):
        assert len(README.read_bytes()) <= README_MAX_BYTES

    @pytest.mark.parametrize("target", LINK.findall(README.read_text()))
    def test_relative_links_resolve(self, target):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            return
        assert (ROOT / target.split("#")[0]).exists(), target

    def test_links_every_docs_page(self):
        readme = README.read_text()
        skipped = {"index.md"}
        missing = [
            p.name
            for p in DOCS.glob("*.md")
            if p.name not in skipped and f"docs/{p.name}" not in readme
        ]
        assert missing == []


class TestGeneratedPages:
    def test_configuration_page_lists_every_setting(self):
        page = _hooks().render((DOCS / "configuration.md").read_text())
        missing = [row["env"] for row in settings_reference() if f"`{row['env']}`" not in page]
        assert missing == []

    def test_configuration_page_is_generated_not_copied(self):
        page = (DOCS / "configuration.md").read_text()
        assert "<!-- generated: settings -->" in page
        assert "| `WATERBILL_" not in page  # no hand-written row of the table

    def test_unknown_generated_block_fails_the_build(self):
        with pytest.raises(KeyError, match="no generated block"):
            _hooks().render("<!-- generated: nothing-by-this-name -->\n")

    def test_every_page_is_in_the_navigation(self):
        nav = (ROOT / "mkdocs.yml").read_text()
        assert [p.name for p in PAGES if p.name not in nav] == []
