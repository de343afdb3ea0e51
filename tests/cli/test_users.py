import pytest
from typer.testing import CliRunner

from cli.main import app
from core.config import get_settings

pytestmark = pytest.mark.services


@pytest.fixture
def cli_env(monkeypatch, database_url):
    monkeypatch.setenv("WATERBILL_DATABASE_URL", database_url)
    monkeypatch.setenv("WATERBILL_DEFAULT_COUNTRY", "CM")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("cli_env")
class TestCreateAdmin:
    def test_creates_an_active_admin_with_an_e164_phone(self, db):
        result = CliRunner().invoke(
            app, ["users", "create-admin", "--phone", "6 58 55 22 94", "--password", "s3cret-pass"]
        )
        assert result.exit_code == 0, result.output
        row = db.execute("SELECT phone, role, is_active FROM app_user").fetchone()
        assert row == ("+237658552294", "admin", True)
        assert db.execute("SELECT action FROM audit_log").fetchone() == ("user.created",)

    def test_a_taken_number_is_refused(self):
        args = ["users", "create-admin", "--phone", "+237658552294", "--password", "s3cret-pass"]
        assert CliRunner().invoke(app, args).exit_code == 0
        again = CliRunner().invoke(app, args)
        assert again.exit_code == 1
        assert "already has an account" in again.output

    def test_a_bad_number_says_why(self):
        result = CliRunner().invoke(
            app, ["users", "create-admin", "--phone", "12", "--password", "s3cret-pass"]
        )
        assert result.exit_code == 1
        assert "not a valid phone number" in result.output
