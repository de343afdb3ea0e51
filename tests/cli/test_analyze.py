import pytest
from typer.testing import CliRunner

from cli.main import app
from core.config import get_settings

pytestmark = pytest.mark.services


@pytest.fixture
def run(database_url, monkeypatch):
    monkeypatch.setenv("WATERBILL_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield lambda *args: CliRunner().invoke(app, ["analyze", *args])
    get_settings.cache_clear()


class TestAnalyzeCommand:
    def test_scans_and_reports_counts(self, run, db):
        db.execute(
            "INSERT INTO meter (serial, kind, installed_at, created_at)"
            " VALUES ('WB-000001', 'iot', now(), now())"
            ", ('WB-000002', 'iot', now() - interval '2 days', now() - interval '2 days')"
        )
        result = run()
        assert result.exit_code == 0, result.output
        assert "scanned 2 meters" in result.output
        assert "1 opened" in result.output  # the one installed two days ago never spoke
        again = run()
        assert "scanned 0 meters" in again.output
        assert "0 opened" in again.output

    def test_an_unknown_meter_is_named(self, run):
        result = run("--meter", "42")
        assert result.exit_code == 1
        assert "no meter with id 42" in result.output

    def test_a_since_without_time_zone_is_refused(self, run):
        result = run("--since", "2026-11-24T10:00")
        assert result.exit_code == 2
        assert "no time zone" in result.output

    def test_as_of_replays_the_scan_at_a_past_instant(self, run, db):
        db.execute(
            "INSERT INTO meter (serial, kind, installed_at, created_at)"
            " VALUES ('WB-000003', 'iot', '2026-03-01T00:00Z', '2026-02-20T00:00Z')"
        )
        early = run("--as-of", "2026-03-01T02:00Z")
        assert early.exit_code == 0, early.output
        assert "0 opened" in early.output  # two hours of silence after installation is normal
        later = run("--as-of", "2026-03-03T00:00+00:00")
        assert "1 opened" in later.output
        [(started,)] = db.execute("SELECT started_at FROM incident").fetchall()
        assert started.isoformat().startswith("2026-03-01T")  # the replayed day, not today

    def test_an_as_of_without_time_zone_is_refused(self, run):
        result = run("--as-of", "2026-03-01T02:00")
        assert result.exit_code == 2
        assert "no time zone" in result.output
