"""The CLI runs in a child process, as an operator runs it (its asyncio.run stays out of the
test process's event loop handling)."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.services


@pytest.fixture
def waterbill(database_url):
    env = {
        **os.environ,
        "WATERBILL_DATABASE_URL": database_url,
        "WATERBILL_DEFAULT_COUNTRY": "CM",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run


class TestCreateAdmin:
    def test_creates_an_active_admin_with_an_e164_phone(self, waterbill, db):
        result = waterbill(
            "users", "create-admin", "--phone", "6 58 55 22 94", "--password", "s3cret-pass"
        )
        assert result.returncode == 0, result.stderr
        row = db.execute("SELECT phone, role, is_active FROM app_user").fetchone()
        assert row == ("+237658552294", "admin", True)
        assert db.execute("SELECT action FROM audit_log").fetchone() == ("user.created",)

    def test_a_taken_number_is_refused(self, waterbill):
        args = ("users", "create-admin", "--phone", "+237658552294", "--password", "s3cret-pass")
        assert waterbill(*args).returncode == 0
        again = waterbill(*args)
        assert again.returncode == 1
        assert "already has an account" in again.stderr

    def test_a_bad_number_says_why(self, waterbill):
        result = waterbill("users", "create-admin", "--phone", "12", "--password", "s3cret-pass")
        assert result.returncode == 1
        assert "not a valid phone number" in result.stderr
