"""`waterbill db runtime-role` and `waterbill migrate` as an operator runs them (child
processes): the owner's URL makes the role and the schema, the services' URL is not used."""

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from core.migrate import current_revision

pytestmark = pytest.mark.services

PASSWORD = "0a1b2c3d4e5f60718293a4b5"
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def role_name(db: psycopg.Connection) -> Iterator[str]:
    """A name no other test uses (roles are cluster-wide); the role goes at the end."""
    name = f"rt_{uuid.uuid4().hex[:12]}"
    yield name
    db.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


@pytest.fixture
def waterbill(database_url: str) -> Run:
    """The CLI with the owner's URL as the migration URL and a URL that cannot connect as the
    services' one: whatever works below used the owner's."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("WATERBILL_")}
    base["WATERBILL_DATABASE_URL"] = "postgresql://nobody@127.0.0.1:1/none"
    base["WATERBILL_MIGRATION_DATABASE_URL"] = database_url

    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cli", *args],
            env={**base, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run


def membership(db: psycopg.Connection, name: str) -> tuple[object, ...] | None:
    return db.execute(
        "SELECT r.rolcanlogin, r.rolsuper, r.rolinherit, pg_has_role(r.oid, 'waterbill_app',"
        " 'MEMBER'), a.rolpassword LIKE 'SCRAM-SHA-256$%%'"
        " FROM pg_roles r JOIN pg_authid a ON a.oid = r.oid WHERE r.rolname = %s",
        [name],
    ).fetchone()


class TestRuntimeRole:
    def test_creates_a_login_member_of_waterbill_app_and_never_prints_the_password(
        self, waterbill, db, role_name, tmp_path: Path
    ):
        secret = tmp_path / "password"
        secret.write_text(PASSWORD + "\n")
        done = waterbill("db", "runtime-role", "--name", role_name, "--password-file", str(secret))
        assert done.returncode == 0, done.stderr
        assert f"role {role_name} created" in done.stdout
        assert PASSWORD not in done.stdout + done.stderr
        assert membership(db, role_name) == (True, False, True, True, True)

    def test_is_idempotent_and_takes_the_password_from_the_environment(
        self, waterbill, db, role_name
    ):
        env = {"WATERBILL_RUNTIME_ROLE_PASSWORD": PASSWORD}
        assert waterbill("db", "runtime-role", "--name", role_name, **env).returncode == 0
        before = db.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", [role_name])
        again = waterbill(
            "db", "runtime-role", "--name", role_name, WATERBILL_RUNTIME_ROLE_PASSWORD="f" * 32
        )
        assert again.returncode == 0, again.stderr
        assert f"role {role_name} updated" in again.stdout
        assert membership(db, role_name) == (True, False, True, True, True)
        # A second run is a password rotation.
        after = db.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", [role_name])
        assert after.fetchone() != before.fetchone()

    @pytest.mark.parametrize(
        ("args", "env", "error"),
        [
            ((), {}, "give --password-file or set WATERBILL_RUNTIME_ROLE_PASSWORD"),
            (("--password-file", "/nonexistent/pw"), {}, "cannot read /nonexistent/pw"),
            ((), {"WATERBILL_RUNTIME_ROLE_PASSWORD": "short"}, "at least 16 characters"),
            (
                ("--name", "Robert'); DROP"),
                {"WATERBILL_RUNTIME_ROLE_PASSWORD": PASSWORD},
                "lower-case",
            ),
            (
                ("--name", "postgres"),
                {"WATERBILL_RUNTIME_ROLE_PASSWORD": PASSWORD},
                "more than row",
            ),
        ],
    )
    def test_refusals_are_specific(self, waterbill, args, env, error):
        done = waterbill("db", "runtime-role", *args, **env)
        assert done.returncode == 2
        assert error in " ".join((done.stdout + done.stderr).split())


class TestMigrate:
    def test_migrates_with_the_owner_url(self, waterbill, empty_database_url):
        done = waterbill("migrate", WATERBILL_MIGRATION_DATABASE_URL=empty_database_url)
        assert done.returncode == 0, done.stderr
        head = current_revision(empty_database_url)
        assert head is not None
        assert f"schema at {head}" in done.stdout
