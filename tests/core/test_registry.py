from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from core.exceptions import Conflict, InvalidInput
from core.models import DwellingType, Meter, MeterKind, MeterUnit, RollupPending
from core.registry import (
    InvalidMeterFile,
    MeterRegistration,
    create_building,
    create_dwelling,
    create_zone,
    get_meter_by_serial,
    parse_meter_csv,
    register_meters,
    replace_meter,
)

INSTALLED = datetime(2026, 1, 1, tzinfo=UTC)


def registration(serial: str, **overrides) -> MeterRegistration:
    fields = {"kind": MeterKind.IOT, "installed_at": INSTALLED, **overrides}
    return MeterRegistration(serial=serial, **fields)


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
class TestRegisterMeters:
    async def test_registers_new_and_leaves_known_serials(self, session):
        first = await register_meters(
            session, meters=[registration("WB-1001"), registration("WB-1002")]
        )
        again = await register_meters(
            session, meters=[registration("WB-1002"), registration("WB-1003")]
        )
        count = await session.scalar(select(func.count()).select_from(Meter))
        assert (first.created, first.existing) == (2, 0)
        assert (again.created, again.existing) == (1, 1)
        assert count == 3

    async def test_one_bad_registration_registers_nothing(self, session):
        with pytest.raises(InvalidInput, match="WB-BAD/1"):
            await register_meters(
                session, meters=[registration("WB-2001"), registration("WB-BAD/1")]
            )
        assert await session.scalar(select(func.count()).select_from(Meter)) == 0


@pytest.mark.services
class TestReplaceMeter:
    async def test_replacement_takes_the_dwelling_and_the_old_meter_is_removed(self, session):
        zone = await create_zone(session, country_code="CM", code="DLA-1", name="Douala 1")
        building = await create_building(session, zone_id=zone.id, name="Akwa 12")
        dwelling = await create_dwelling(
            session, building_id=building.id, reference="A1", dwelling_type=DwellingType.APARTMENT
        )
        await register_meters(session, meters=[registration("WB-OLD", dwelling_id=dwelling.id)])
        old = await get_meter_by_serial(session, serial="WB-OLD")
        at = datetime(2026, 6, 15, 10, tzinfo=UTC)

        new = await replace_meter(
            session, meter_id=old.id, replacement=registration("WB-NEW"), at=at
        )
        await session.refresh(old)
        assert (new.dwelling_id, new.installed_at) == (dwelling.id, at)
        assert old.removed_at == at
        pending = await session.scalar(
            select(RollupPending.since).where(RollupPending.meter_id == old.id)
        )
        assert pending == at

    async def test_replacing_twice_is_a_conflict(self, session):
        await register_meters(session, meters=[registration("WB-X1")])
        old = await get_meter_by_serial(session, serial="WB-X1")
        at = datetime(2026, 6, 15, tzinfo=UTC)
        await replace_meter(session, meter_id=old.id, replacement=registration("WB-X2"), at=at)
        with pytest.raises(Conflict, match="removed"):
            await replace_meter(session, meter_id=old.id, replacement=registration("WB-X3"), at=at)


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
