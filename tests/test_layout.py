"""The house rules a newcomer relies on: no production module over 400 lines (issue 11)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (
    "accounts",
    "analytics",
    "api",
    "billing",
    "cli",
    "core",
    "ingest",
    "jobs",
    "privacy",
    "registry",
    "simulators",
    "wire",
)
MAX_LINES = 400


def test_no_production_module_is_over_400_lines():
    long = {
        str(path.relative_to(ROOT)): lines
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        # A migration is a record of its day, never edited: its length is what it was.
        if "migrations" not in path.parts
        and (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_every_package_is_checked():
    packages = {
        path.parent.name
        for path in ROOT.glob("*/__init__.py")
        if path.parent.name not in {"tests", "bench", "docs"}
    }
    assert packages == set(PACKAGES)
