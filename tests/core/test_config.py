import pytest
from pydantic import SecretStr, ValidationError
from typer.testing import CliRunner

from cli.main import app
from core.config import (
    MIN_SECRET_BYTES,
    Environment,
    Settings,
    SmsProviderName,
    SmsSettings,
    get_settings,
    settings_reference,
)
from core.config_auth import AuthSettings

REAL_SECRET = SecretStr("s" * MIN_SECRET_BYTES)
TWILIO = SmsSettings(
    provider=SmsProviderName.TWILIO,
    twilio_account_sid="AC" + "0" * 32,
    twilio_auth_token=SecretStr("t" * 32),
    from_number="+15005550006",
)


class TestDatabaseUrl:
    def test_sqlalchemy_scheme_is_normalised_to_libpq(self):
        settings = Settings(database_url=SecretStr("postgresql+psycopg://u@h:1/d"))
        assert settings.dsn == "postgresql://u@h:1/d"
        assert settings.sqlalchemy_url == "postgresql+psycopg://u@h:1/d"

    def test_short_postgres_scheme_is_accepted(self):
        assert Settings(database_url=SecretStr("postgres://u@h/d")).dsn == "postgresql://u@h/d"

    def test_other_schemes_are_refused(self):
        with pytest.raises(ValidationError, match="postgresql://"):
            Settings(database_url=SecretStr("mysql://u@h/d"))

    def test_refusal_does_not_echo_the_url(self):
        with pytest.raises(ValidationError) as refused:
            Settings(database_url=SecretStr("mysql://u:hunter2@h/d"))
        assert "hunter2" not in str(refused.value)

    def test_url_is_hidden_from_repr(self):
        settings = Settings(database_url=SecretStr("postgresql://u:hunter2@h/d"))
        assert "hunter2" not in repr(settings)
        assert "hunter2" not in str(settings.model_dump())


class TestSecrets:
    def test_production_refuses_the_development_secret(self):
        with pytest.raises(ValidationError, match="WATERBILL_SECRET_KEY"):
            Settings(environment=Environment.PRODUCTION)

    def test_production_refuses_a_short_secret(self):
        short = SecretStr("s" * (MIN_SECRET_BYTES - 1))
        with pytest.raises(ValidationError, match=f"at least {MIN_SECRET_BYTES} bytes"):
            Settings(environment=Environment.PRODUCTION, secret_key=short)

    def test_short_secret_is_counted_in_bytes_not_characters(self):
        # 16 characters of 2 bytes each in UTF-8: 32 bytes, enough.
        settings = Settings(
            environment=Environment.PRODUCTION, secret_key=SecretStr("é" * 16), sms=TWILIO
        )
        assert settings.environment is Environment.PRODUCTION

    def test_production_accepts_a_real_secret(self):
        settings = Settings(environment=Environment.PRODUCTION, secret_key=REAL_SECRET, sms=TWILIO)
        assert settings.environment is Environment.PRODUCTION

    def test_production_refuses_the_console_sms_provider(self):
        with pytest.raises(ValidationError, match="WATERBILL_SMS__PROVIDER=console sends no SMS"):
            Settings(environment=Environment.PRODUCTION, secret_key=REAL_SECRET)

    def test_production_refuses_a_refresh_cookie_without_secure(self):
        plain = AuthSettings(cookie_secure=False)
        with pytest.raises(ValidationError, match="WATERBILL_AUTH__COOKIE_SECURE=false"):
            Settings(
                environment=Environment.PRODUCTION, secret_key=REAL_SECRET, sms=TWILIO, auth=plain
            )

    def test_production_names_the_missing_twilio_settings(self):
        bare = SmsSettings(provider=SmsProviderName.TWILIO, twilio_account_sid="AC1")
        with pytest.raises(ValidationError) as refused:
            Settings(environment=Environment.PRODUCTION, secret_key=REAL_SECRET, sms=bare)
        message = str(refused.value)
        assert "WATERBILL_SMS__TWILIO_AUTH_TOKEN, WATERBILL_SMS__FROM_NUMBER must be set" in message
        assert "ACCOUNT_SID" not in message

    @pytest.mark.parametrize("environment", [Environment.DEVELOPMENT, Environment.TEST])
    def test_other_environments_accept_a_short_secret(self, environment):
        settings = Settings(environment=environment, secret_key=SecretStr("short"))
        assert settings.secret_key.get_secret_value() == "short"

    def test_production_refusal_comes_from_the_environment_too(self, monkeypatch):
        monkeypatch.setenv("WATERBILL_ENVIRONMENT", "production")
        monkeypatch.setenv("WATERBILL_SECRET_KEY", "too-short")
        with pytest.raises(ValidationError, match="WATERBILL_SECRET_KEY"):
            Settings()


class TestEnvironment:
    def test_nested_groups_read_double_underscore_variables(self, monkeypatch):
        monkeypatch.setenv("WATERBILL_MQTT__PORT", "1999")
        monkeypatch.setenv("WATERBILL_INGEST__BATCH_SIZE", "42")
        settings = Settings()
        assert (settings.mqtt.port, settings.ingest.batch_size) == (1999, 42)

    def test_dotenv_file_is_read(self, tmp_path, monkeypatch):
        (tmp_path / ".env").write_text("WATERBILL_DEFAULT_COUNTRY=CM\n")
        monkeypatch.chdir(tmp_path)
        assert Settings().default_country == "CM"


class TestReference:
    def test_settings_command_never_prints_the_database_url_in_use(self, monkeypatch):
        monkeypatch.setenv("WATERBILL_DATABASE_URL", "postgresql://wb:hunter2@db.example/wb")
        get_settings.cache_clear()
        try:
            for args in (["settings"], ["settings", "--markdown"]):
                result = CliRunner().invoke(app, args, env={"COLUMNS": "300"})
                assert result.exit_code == 0, result.output
                assert "WATERBILL_DATABASE_URL" in result.output
                assert "hunter2" not in result.output
        finally:
            get_settings.cache_clear()

    def test_every_setting_has_a_description(self):
        assert [row["env"] for row in settings_reference() if not row["description"]] == []
