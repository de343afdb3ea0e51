"""The lock files pin every dependency pyproject.toml declares (`scripts/lock` re-pins them)."""

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]


def _name(requirement: str) -> str:
    name = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert name is not None, requirement
    return re.sub(r"[-_.]+", "-", name.group(0)).lower()


def _pins(lock: str) -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9._-]+)==(\S+)", (ROOT / lock).read_text(), re.MULTILINE)
    return {_name(name): version for name, version in pins}


RUNTIME = _pins("requirements.lock")
DEV = _pins("requirements-dev.lock")


class TestLocks:
    def test_runtime_lock_pins_every_runtime_dependency(self):
        assert [r for r in PROJECT["dependencies"] if _name(r) not in RUNTIME] == []

    @pytest.mark.parametrize("extra", sorted(PROJECT["optional-dependencies"]))
    def test_dev_lock_pins_every_extra(self, extra):
        requirements = PROJECT["optional-dependencies"][extra]
        assert [r for r in requirements if _name(r) not in DEV] == []

    def test_both_locks_agree_on_shared_packages(self):
        assert {
            name: (RUNTIME[name], DEV.get(name))
            for name in RUNTIME
            if DEV.get(name) != RUNTIME[name]
        } == {}

    def test_runtime_lock_holds_no_dev_tool(self):
        assert {"pytest", "ruff", "mypy", "mkdocs"} & set(RUNTIME) == set()

    def test_linters_are_pinned_exactly(self):
        dev = {_name(r): r for r in PROJECT["optional-dependencies"]["dev"]}
        assert "==" in dev["ruff"]
        assert "==" in dev["mypy"]


class TestInstallers:
    def test_install_script_installs_the_lock_then_the_project_alone(self):
        script = (ROOT / "scripts" / "install").read_text()
        assert "requirements-dev.lock" in script
        assert "--no-deps -e ." in script

    def test_image_installs_the_runtime_lock_then_the_project_alone(self):
        dockerfile = (ROOT / "Dockerfile").read_text()
        assert "pip install -r requirements.lock" in dockerfile
        assert "pip install --no-deps ." in dockerfile
        assert dockerfile.index("requirements.lock") < dockerfile.index("COPY . .")
