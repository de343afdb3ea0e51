"""The jobs settings: schedules are checked when the settings load, not at the first tick."""

import pytest
from pydantic import ValidationError

from core.config import Settings


class TestJobsSettings:
    def test_every_schedule_is_read_from_the_environment(self, monkeypatch):
        monkeypatch.setenv("WATERBILL_JOBS__SCAN_CRON", "*/10 * * * *")
        monkeypatch.setenv("WATERBILL_JOBS__ROLLUP_CRON", "* * * * * */30")
        settings = Settings(_env_file=None)
        assert settings.jobs.scan_cron == "*/10 * * * *"
        assert settings.jobs.rollup_cron == "* * * * * */30"

    def test_a_bad_cron_expression_is_refused_by_name(self, monkeypatch):
        monkeypatch.setenv("WATERBILL_JOBS__REMIND_CRON", "every morning")
        with pytest.raises(ValidationError, match="remind_cron"):
            Settings(_env_file=None)
