import pytest

from simulators.demand import local_day_start
from simulators.fleet import Fleet, FleetConfig
from simulators.registration import register_fleet

pytestmark = pytest.mark.services


class TestRegisterFleet:
    async def test_meters_installed_on_a_later_day_show_their_index_there(self, session, db):
        config = FleetConfig(meters=4, seed=3, serial_prefix="REG")
        fleet = Fleet(config)
        await register_fleet(session, fleet=fleet, country_code="PG", installed_day=30, vacant=[2])
        await session.commit()
        rows = db.execute(
            "SELECT m.serial, m.installed_at, m.initial_index_l, d.occupancy::text"
            " FROM meter m JOIN dwelling d ON d.id = m.dwelling_id ORDER BY m.serial"
        ).fetchall()
        installed = local_day_start(30, config.utc_offset_s)
        step = int((installed.timestamp() - fleet.anchor_epoch()) // config.interval_s) - 1
        index = fleet.readings(step, 1)[1][:, 0]
        assert [(r[1], r[2]) for r in rows] == [(installed, int(i)) for i in index]
        assert [r[3] for r in rows] == ["occupied", "vacant", "occupied", "occupied"]
        # Thirty days of use since the anchor.
        assert all(int(i) > int(f) for i, f in zip(index, fleet.initial_index_l, strict=True))
