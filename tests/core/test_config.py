from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from core.config import Environment, Settings, settings_reference

README = Path(__file__).parents[2] / "README.md"


class TestDatabaseUrl:
    def test_sqlalchemy_scheme_is_normalised_to_libpq(self):
        settings = Settings(database_url="postgresql+psycopg://u@h:1/d")
        assert settings.database_url == "postgresql://u@h:1/d"
        assert settings.sqlalchemy_url == "postgresql+psycopg://u@h:1/d"

    def test_short_postgres_scheme_is_accepted(self):
        assert Settings(database_url="postgres://u@h/d").database_url == "postgresql://u@h/d"

    def test_other_schemes_are_refused(self):
        with pytest.raises(ValidationError, match="postgresql://"):
            Settings(database_url="mysql://u@h/d")


class TestSecrets:
    def test_production_refuses_the_development_secret(self):
        with pytest.raises(ValidationError, match="WATERBILL_SECRET_KEY"):
            Settings(environment=Environment.PRODUCTION)

    def test_production_accepts_a_real_secret(self):
        settings = Settings(environment=Environment.PRODUCTION, secret_key=SecretStr("s" * 32))
        assert settings.environment is Environment.PRODUCTION


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
    def test_every_setting_is_documented_in_the_readme(self):
        readme = README.read_text()
        missing = [row["env"] for row in settings_reference() if f"`{row['env']}`" not in readme]
        assert missing == []

    def test_every_setting_has_a_description(self):
        assert [row["env"] for row in settings_reference() if not row["description"]] == []
