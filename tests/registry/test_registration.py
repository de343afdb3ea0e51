from datetime import UTC, datetime

import pytest

from registry.exceptions import InvalidMeterFile
from registry.models import MeterKind, MeterUnit
from registry.registration import MeterRegistration, parse_meter_csv
from tests.registry.conftest import registration


class TestMeterRegistrationRules:
    @pytest.mark.parametrize(
        ("overrides", "expected"),
        [
            ({"serial": "a/b"}, "serial 'a/b'"),
            ({"serial": "ab"}, "serial 'ab'"),
            ({"register_digits": 3}, "register_digits 3"),
            ({"initial_index_l": 10**9}, "does not fit a 9-digit register"),
            ({"reporting_interval_s": 0}, "reporting_interval_s"),
            ({"installed_at": datetime(2026, 1, 1)}, "time zone"),
        ],
    )
    def test_each_rule_names_the_problem(self, overrides, expected):
        fields = {"serial": "WB-000001", **overrides}
        serial = fields.pop("serial")
        problems = registration(serial, **fields).problems()
        assert len(problems) == 1
        assert expected in problems[0]

    def test_a_good_registration_has_no_problem(self):
        assert registration("WB-000001").problems() == []


@pytest.mark.services
class TestParseMeterCsv:
    def test_reads_every_column(self):
        meters = parse_meter_csv(
            "serial,kind,installed_at,unit,register_digits,dwelling_id,initial_index_l\n"
            "WB-1,iot,2026-03-01T00:00:00+10:00,l,8,7,1200\n"
        )
        assert meters == [
            MeterRegistration(
                serial="WB-1",
                kind=MeterKind.IOT,
                installed_at=datetime.fromisoformat("2026-03-01T00:00:00+10:00"),
                unit=MeterUnit.LITRE,
                register_digits=8,
                dwelling_id=7,
                initial_index_l=1200,
            )
        ]

    def test_defaults_install_time_to_now(self):
        now = datetime(2026, 11, 24, tzinfo=UTC)
        (meter,) = parse_meter_csv("serial,kind\nWB-1,mechanical\n", now=now)
        assert meter.installed_at == now

    def test_reports_every_bad_line_with_its_number(self):
        with pytest.raises(InvalidMeterFile) as raised:
            parse_meter_csv(
                "serial,kind,register_digits\n"
                "WB-1,iot,9\n"
                "WB-2,solar,9\n"
                "WB-3,iot,nine\n"
                "WB-1,iot,9\n"
                "WB-4,iot,0\n"
            )
        message = raised.value.message
        assert "line 3: kind 'solar'" in message
        assert "line 4: register_digits 'nine'" in message
        assert "line 5: serial 'WB-1' repeats line 2" in message
        assert "line 6: register_digits 0" in message

    def test_reports_missing_and_unknown_columns(self):
        with pytest.raises(
            InvalidMeterFile, match="missing column 'kind'.*unknown column 'colour'"
        ):
            parse_meter_csv("serial,colour\nWB-1,blue\n")
