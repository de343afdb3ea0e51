import json
from datetime import datetime, time

import pytest
from typer.testing import CliRunner

from cli.main import app
from simulators.anomalies import KINDS
from simulators.fleet import Fleet, FleetConfig

pytestmark = pytest.mark.services


def run(*args):
    return CliRunner().invoke(app, list(args))


@pytest.mark.usefixtures("cli_env")
class TestSimulateRegister:
    def test_register_twice_creates_the_fleet_once(self, db, collector):
        args = ("simulate", "--meters", "25", "--register", "--days", "0.25", "--seed", "4")
        first = run(*args)
        second = run(*args)
        assert first.exit_code == 0, first.output
        assert second.exit_code == 0, second.output
        assert "25 meters created, 0 existing" in " ".join(first.output.split())
        assert "0 meters created, 25 existing" in " ".join(second.output.split())
        meters = db.execute(
            "SELECT m.serial, d.occupants, m.initial_index_l, m.reporting_interval_s,"
            " m.installed_at FROM meter m JOIN dwelling d ON d.id = m.dwelling_id"
            " ORDER BY m.serial"
        ).fetchall()
        fleet = Fleet(FleetConfig(meters=25, seed=4))
        # Installed at the local midnight opening the first simulated day, with the index the
        # meter shows then; the demo zone priced from that day in its country's currency.
        installed = meters[0][4]
        assert {m[4] for m in meters} == {installed}
        assert [m[:4] for m in meters] == [
            (serial, int(occupants), fleet.index_at(number, installed), 3600)
            for number, serial, occupants in zip(
                fleet.meter_numbers, fleet.serials, fleet.occupants, strict=True
            )
        ]
        local = db.execute(
            "SELECT DISTINCT (m.installed_at AT TIME ZONE c.timezone)::time,"
            " t.currency = c.currency,"
            " t.effective_from = (m.installed_at AT TIME ZONE c.timezone)::date, t.zone_id = z.id"
            " FROM meter m JOIN dwelling d ON d.id = m.dwelling_id"
            " JOIN building b ON b.id = d.building_id JOIN zone z ON z.id = b.zone_id"
            " JOIN country c ON c.code = z.country_code CROSS JOIN tariff t"
        ).fetchall()
        assert local == [(time(0), True, True, True)]
        assert db.execute("SELECT count(*) FROM building").fetchone() == (2,)
        assert db.execute("SELECT count(*) FROM zone WHERE code = 'SIM-DEMO'").fetchone() == (1,)
        # Six hourly slots of history for 25 meters, published by each run.
        assert len(collector.wait_for(2 * 6 * 25)) == 2 * 6 * 25


class TestSimulateOptions:
    @pytest.mark.parametrize(
        ("args", "expected"),
        [
            (("--interval", "7"), "must divide a day"),
            (("--batch", "0"), "batch 0"),
            (("--duplicates", "1.5"), "duplicate_p"),
            (("--start", "2020-01-01"), "starts after 2025-01-01"),
            (("--start", "soon"), "not an ISO 8601"),
        ],
    )
    def test_bad_options_are_refused_with_the_reason(self, args, expected):
        result = run("simulate", *args)
        assert result.exit_code == 2
        assert expected in " ".join(result.output.split())


@pytest.mark.usefixtures("cli_env")
class TestSimulateAnomalies:
    def test_labels_are_written_for_each_injected_anomaly(self, tmp_path, collector):
        path = tmp_path / "labels.jsonl"
        result = run(
            "simulate", "--meters", "20", "--days", "2", "--anomalies", "7", "--labels", str(path)
        )
        assert result.exit_code == 0, result.output
        records = [json.loads(line) for line in path.read_text().splitlines()]
        assert sorted(r["kind"] for r in records) == sorted(KINDS)
        assert all(r["serial"].startswith("SIM-") for r in records)
        received = collector.wait_for(19 * 48)
        silent = next(r for r in records if r["kind"] == "silent")
        times = [
            datetime.fromisoformat(json.loads(payload)["time"])
            for topic, payload in received
            if f"/{silent['serial']}/" in topic
        ]
        assert max(times, default=None) is None or max(times) <= datetime.fromisoformat(
            silent["start"]
        )

    def test_more_anomalies_than_meters_is_refused(self):
        result = run("simulate", "--meters", "3", "--anomalies", "4")
        assert result.exit_code == 2
        assert "more than --meters" in " ".join(result.output.split())
