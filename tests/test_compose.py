"""docker-compose.yml cannot run here (no Docker engine): pin its structure instead, and resolve
its variables the way `docker compose config` does, with and without the operator's `.env`."""

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from cli.main import app
from core.config import Environment, Settings, settings_reference

ROOT = Path(__file__).parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
OURS = {name for name, service in SERVICES.items() if service.get("build") == "."}
# What an operator writes into .env before the first start (docs/deploy.md).
DOTENV = {
    "POSTGRES_PASSWORD": "0a1b2c3d4e5f60718293a4b5",
    "RUNTIME_DB_PASSWORD": "5b4a3e2d1c0b9a8f7e6d5c4b",
    "WATERBILL_SECRET_KEY": "f" * 64,
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "0" * 32,
    "SMS_FROM_NUMBER": "+15005550006",
    "MQTT_INGEST_PASSWORD": "9c8b7a6f5e4d3c2b1a0f9e8d",
    "MQTT_API_PASSWORD": "1f2e3d4c5b6a7f8e9d0c1b2a",
}
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}; $$ is a literal $.
# Ref: https://docs.docker.com/reference/compose-file/interpolation/
VARIABLE = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
)


RUNTIME_PASSWORD = DOTENV["RUNTIME_DB_PASSWORD"]
# The one-shot services that connect as the database owner.
OWNER_CHORES = {"migrate", "runtime-role"}


class MissingVariable(Exception):
    pass


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """The compose file with its variables resolved from ``env``, as `docker compose config`."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def resolve(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name", "op", "arg")
        unset = name not in env or (op is not None and op.startswith(":") and not env[name])
        if not unset:
            return env[name]
        if op in ("-", ":-"):
            return str(arg)
        if op in ("?", ":?"):
            raise MissingVariable(f"{name}: {arg}")
        return ""

    return VARIABLE.sub(resolve, value)


def service_environment(name: str, env: dict[str, str]) -> dict[str, str]:
    return {k: str(v) for k, v in interpolate(SERVICES[name], env)["environment"].items()}


class TestServices:
    def test_the_stack_has_every_service(self):
        assert set(SERVICES) == {
            "timescaledb",
            "mosquitto",
            "migrate",
            "runtime-role",
            "ingest",
            "worker",
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

    def test_simulator_starts_only_with_the_demo_profile(self):
        assert SERVICES["simulator"]["profiles"] == ["demo"]
        assert [
            name for name in SERVICES if name != "simulator" and "profiles" in SERVICES[name]
        ] == []

    def test_our_services_share_one_image(self):
        assert OURS == {"migrate", "runtime-role", "ingest", "worker", "api", "simulator"}
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

    def test_a_worker_runs_the_schedule_after_the_migrations(self):
        worker = SERVICES["worker"]
        assert worker["command"] == ["worker"]
        assert worker["depends_on"]["runtime-role"]["condition"] == "service_completed_successfully"
        # Replicas would collide on a published port; a worker needs none.
        assert "ports" not in worker
        # Running jobs finish on SIGTERM: Compose's default 10 s would cut a long scan short.
        assert worker["stop_grace_period"] == "60s"

    def test_no_follow_loop_is_left_beside_the_worker(self):
        commands = [SERVICES[name]["command"] for name in OURS]
        assert [command for command in commands if "--follow" in command] == []

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


class TestSecrets:
    @pytest.mark.parametrize("missing", sorted(DOTENV))
    def test_compose_refuses_to_start_without_each_secret(self, missing):
        env = {key: value for key, value in DOTENV.items() if key != missing}
        with pytest.raises(MissingVariable, match=f"{missing}: set it in .env"):
            interpolate(COMPOSE, env)

    def test_an_empty_secret_counts_as_missing(self):
        with pytest.raises(MissingVariable, match="WATERBILL_SECRET_KEY"):
            interpolate(COMPOSE, {**DOTENV, "WATERBILL_SECRET_KEY": ""})

    def test_no_default_secret_is_left_in_the_file(self):
        text = (ROOT / "docker-compose.yml").read_text()
        assert "changethis" not in text
        assert re.search(r"\$\{(POSTGRES_PASSWORD|WATERBILL_SECRET_KEY):?-", text) is None

    @pytest.mark.parametrize("name", sorted(OURS))
    def test_with_the_dotenv_every_service_is_a_valid_production_configuration(
        self, name, monkeypatch, tmp_path
    ):
        monkeypatch.chdir(tmp_path)  # no stray .env of the developer's
        for key, value in service_environment(name, DOTENV).items():
            monkeypatch.setenv(key, value)
        settings = Settings()
        assert settings.environment is Environment.PRODUCTION
        assert settings.secret_key.get_secret_value() == DOTENV["WATERBILL_SECRET_KEY"]
        assert settings.dsn.startswith(f"postgresql://waterbill_runtime:{RUNTIME_PASSWORD}@")
        # Only the owner's chores get the owner's URL.
        owner = name in OWNER_CHORES
        assert (f"postgres:{DOTENV['POSTGRES_PASSWORD']}@" in settings.migration_dsn) is owner

    def test_database_password_is_the_one_the_database_gets(self):
        resolved = interpolate(COMPOSE, DOTENV)["services"]
        url = resolved["migrate"]["environment"]["WATERBILL_MIGRATION_DATABASE_URL"]
        assert f":{resolved['timescaledb']['environment']['POSTGRES_PASSWORD']}@" in url

    def test_the_runtime_role_is_made_before_the_services_with_their_password(self):
        role = SERVICES["runtime-role"]
        assert role["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        command = role["command"]
        name = command[command.index("--name") + 1]
        secret = command[command.index("--password-file") + 1]
        assert secret == f"/run/secrets/{role['secrets'][0]}"
        assert COMPOSE["secrets"][role["secrets"][0]] == {"environment": "RUNTIME_DB_PASSWORD"}
        for service in OURS - OWNER_CHORES:
            after = SERVICES[service]["depends_on"]["runtime-role"]["condition"]
            assert after == "service_completed_successfully"
            url = service_environment(service, DOTENV)["WATERBILL_DATABASE_URL"]
            assert url.startswith(f"postgresql://{name}:{RUNTIME_PASSWORD}@")

    def test_dollar_dollar_stays_a_literal_dollar(self):
        broker = interpolate(COMPOSE, DOTENV)["services"]["mosquitto"]
        assert "-t '$SYS/broker/uptime'" in broker["healthcheck"]["test"][1]

    @pytest.mark.skipif(
        shutil.which("docker") is None
        or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
        reason="no `docker compose` here: the interpolation above stands in for it",
    )
    def test_docker_compose_config_accepts_the_file_with_the_dotenv(self, tmp_path):
        (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in DOTENV.items()))
        done = subprocess.run(
            [
                "docker",
                "compose",
                "--project-directory",
                str(ROOT),
                "--env-file",
                str(tmp_path / ".env"),
                "-f",
                str(ROOT / "docker-compose.yml"),
                "config",
                "--quiet",
            ],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr


class TestImage:
    IGNORED = [
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def test_image_gets_every_package_of_the_wheel(self):
        pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
        packages = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
        assert "COPY . ." in (ROOT / "Dockerfile").read_text()
        assert [p for p in packages if p in self.IGNORED] == []

    @pytest.mark.parametrize("kept_out", [".env", ".git", ".venv", ".waterbill", "tests"])
    def test_secrets_and_local_state_stay_out_of_the_image(self, kept_out):
        assert kept_out in self.IGNORED
