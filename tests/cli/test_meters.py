import pytest
from typer.testing import CliRunner

from cli.main import app
from core.broker_auth import read_password_file

pytestmark = pytest.mark.services

GOOD = """serial,kind,installed_at,register_digits,initial_index_l
WB-100001,iot,2026-01-01T00:00:00+00:00,9,120
WB-100002,mechanical,2026-01-02T00:00:00+10:00,6,0
"""
BAD = """serial,kind,installed_at,register_digits
WB-200001,iot,2026-01-01T00:00:00+00:00,9
WB/2,iot,2026-01-01T00:00:00+00:00,9
WB-200003,gas,2026-01-01T00:00:00+00:00,9
WB-200004,iot,yesterday,9
WB-200001,iot,2026-01-01T00:00:00+00:00,3
"""


def run(*args):
    return CliRunner().invoke(app, list(args))


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.usefixtures("cli_env")
class TestMetersImport:
    def test_a_good_file_registers_then_reports_existing(self, db, tmp_path):
        path = tmp_path / "meters.csv"
        path.write_text(GOOD)
        first = run("meters", "import", str(path))
        again = run("meters", "import", str(path))
        assert first.exit_code == 0, first.output
        assert "2 meters created, 0 already registered" in flat(first.output)
        assert "0 meters created, 2 already registered" in flat(again.output)
        rows = db.execute("SELECT serial, register_digits, initial_index_l FROM meter ORDER BY 1")
        assert rows.fetchall() == [("WB-100001", 9, 120), ("WB-100002", 6, 0)]

    def test_a_bad_file_reports_every_bad_line_and_registers_nothing(self, db, tmp_path):
        path = tmp_path / "meters.csv"
        path.write_text(BAD)
        result = run("meters", "import", str(path))
        output = flat(result.output)
        assert result.exit_code == 1
        for expected in (
            "line 3: serial 'WB/2'",
            "line 4: kind 'gas'",
            "line 5: installed_at 'yesterday'",
            "line 6: register_digits 3",
            "line 6: serial 'WB-200001' repeats line 2",
        ):
            assert expected in output
        assert db.execute("SELECT count(*) FROM meter").fetchone() == (0,)

    def test_an_unknown_dwelling_is_refused_clearly(self, db, tmp_path):
        path = tmp_path / "meters.csv"
        path.write_text("serial,kind,dwelling_id\nWB-300001,iot,999\n")
        result = run("meters", "import", str(path))
        assert result.exit_code == 1
        assert "rejected by the database" in flat(result.output)
        assert db.execute("SELECT count(*) FROM meter").fetchone() == (0,)

    def test_a_bad_header_is_reported(self, tmp_path):
        path = tmp_path / "meters.csv"
        path.write_text("serial,colour\nWB-1,red\n")
        result = run("meters", "import", str(path))
        assert result.exit_code == 1
        assert "missing column 'kind'" in flat(result.output)
        assert "unknown column 'colour'" in flat(result.output)


@pytest.mark.usefixtures("cli_env")
class TestMetersCredentials:
    def test_prints_each_login_once_and_writes_the_broker_file(
        self, tmp_path, own_broker, monkeypatch
    ):
        monkeypatch.setenv("WATERBILL_MQTT__PASSWORD_FILE", str(own_broker.password_file))
        monkeypatch.setenv("WATERBILL_MQTT__BROKER_PID_FILE", str(own_broker.pid_file))
        path = tmp_path / "meters.csv"
        path.write_text(GOOD)
        assert run("meters", "import", str(path)).exit_code == 0
        result = run("meters", "credentials", "WB-100001", "WB-100002")
        assert result.exit_code == 0, result.output
        lines = [line.split() for line in result.output.splitlines()]
        assert [line[0] for line in lines] == ["WB-100001", "WB-100002"]
        assert lines[0][2].endswith("/meters/WB-100001/up")
        assert {"WB-100001", "WB-100002"} <= read_password_file(own_broker.password_file).keys()

    def test_an_unknown_serial_fails(self):
        result = run("meters", "credentials", "WB-UNKNOWN")
        assert result.exit_code == 1
        assert "no meter with serial 'WB-UNKNOWN'" in flat(result.output)
