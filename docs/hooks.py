"""mkdocs hook: pages whose tables would repeat the code are filled from the code at build time.

A page asks for a generated block with an HTML comment on a line of its own, e.g.
``<!-- generated: settings -->``; the build fails on an unknown name, so a typo cannot ship an
empty section. Ref: https://www.mkdocs.org/user-guide/configuration/#hooks
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MARKER = re.compile(r"^<!-- generated: ([a-z-]+) -->$", re.MULTILINE)


def settings_table() -> str:
    """`waterbill settings --markdown`, run as an operator would, with no settings of ours set."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("WATERBILL_")}
    with tempfile.TemporaryDirectory() as empty:  # no stray .env in the working directory
        done = subprocess.run(
            [sys.executable, "-m", "cli", "settings", "--markdown"],
            cwd=empty,
            env={**env, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            check=True,
        )
    return done.stdout


def uplink_schema() -> str:
    """The published JSON Schema of the uplink: generated from the wire models (`python -m wire`),
    and a test fails when the committed file and the code disagree."""
    schema = (ROOT / "docs" / "reference" / "uplink.schema.json").read_text()
    return "```json\n" + schema.rstrip("\n") + "\n```\n"


def api_endpoints() -> str:
    """Every route of the API with its one-line docstring, grouped by tag, from the OpenAPI."""
    from api.app import create_app
    from core.config import Settings

    spec = create_app(Settings()).openapi()
    rows: dict[str, list[str]] = {}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            tag = (operation.get("tags") or ["other"])[0]
            summary = operation.get("description") or operation.get("summary") or ""
            first_line = summary.strip().splitlines()[0] if summary.strip() else ""
            cells = [f"`{method.upper()} {path}`", first_line]
            rows.setdefault(tag, []).append(
                "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
            )
    out = []
    for tag in sorted(rows):
        out += [f"### {tag}", "", "| route | what |", "|---|---|", *rows[tag], ""]
    return "\n".join(out)


GENERATORS: dict[str, Callable[[], str]] = {
    "settings": settings_table,
    "uplink-schema": uplink_schema,
    "api-endpoints": api_endpoints,
}


def render(markdown: str) -> str:
    """Replace every marker in ``markdown`` with its generated block."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in GENERATORS:
            raise KeyError(f"no generated block named {name!r} (known: {sorted(GENERATORS)})")
        return GENERATORS[name]()

    return MARKER.sub(fill, markdown)


def on_page_markdown(markdown: str, **_: Any) -> str:
    return render(markdown)
