"""docker-compose.yml cannot run here (no Docker engine): pin its structure instead."""

import re
import tomllib
from pathlib import Path

import pytest
import typer
import yaml

from cli.main import app
from core.config import settings_reference

ROOT = Path(__file__).parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
OURS = {name for name, service in SERVICES.items() if service.get("build") == "."}


class TestServices:
    def test_the_stack_has_every_service(self):
        assert set(SERVICES) == {
            "timescaledb",
            "mosquitto",
            "migrate",
            "ingest",
            "rollup",
            "api",
            "simulator",
        }

    def test_database_is_the_full_timescaledb_edition_on_postgres_15(self):
        assert re.fullmatch(r"timescale/timescaledb:[\d.]+-pg15", SERVICES["timescaledb"]["image"])

    def test_broker_is_mosquitto_2_with_our_config(self):
        broker = SERVICES["mosquitto"]
        assert broker["image"] == "eclipse-mosquitto:2"
        mount = next(v for v in broker["volumes"] if v.endswith("mosquitto.conf:ro"))
        config = (ROOT / mount.split(":")[0]).read_text()
        queued = re.search(r"^max_queued_messages (\d+)$", config, re.MULTILINE)
        assert queued is not None
        assert int(queued.group(1)) > 1000

    def test_our_services_share_one_image(self):
        assert OURS == {"migrate", "ingest", "rollup", "api", "simulator"}
        assert {SERVICES[name]["image"] for name in OURS} == {"waterbill:latest"}

    @pytest.mark.parametrize("name", ["timescaledb", "mosquitto", "api"])
    def test_long_running_dependencies_have_healthchecks(self, name):
        assert SERVICES[name]["healthcheck"]["test"]

    def test_published_ports_are_loopback_only(self):
        ports = [port for service in SERVICES.values() for port in service.get("ports", [])]
        assert ports
        assert all(port.startswith("127.0.0.1:") for port in ports)


class TestCommands:
    @pytest.mark.parametrize("name", sorted(OURS))
    def test_command_is_accepted_by_our_cli(self, name):
        command = SERVICES[name]["command"]
        group = typer.main.get_group(app)
        with group.make_context("waterbill", list(command), resilient_parsing=False) as ctx:
            sub = group.get_command(ctx, command[0])
            assert sub is not None, f"waterbill has no command {command[0]!r}"
            sub.make_context(command[0], list(command[1:]))

    def test_api_listens_on_the_published_port(self):
        command = SERVICES["api"]["command"]
        port = command[command.index("--port") + 1]
        assert SERVICES["api"]["ports"] == [f"127.0.0.1:{port}:{port}"]

    def test_environment_names_only_known_settings(self):
        known = {row["env"] for row in settings_reference()}
        used = {
            key
            for service in SERVICES.values()
            for key in (service.get("environment") or {})
            if key.startswith("WATERBILL_")
        }
        assert used
        assert used <= known


class TestImage:
    def test_dockerfile_copies_every_package(self):
        pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
        packages = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
        dockerfile = (ROOT / "Dockerfile").read_text()
        assert [p for p in packages if f"COPY {p} ./{p}" not in dockerfile] == []
