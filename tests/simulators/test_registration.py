import asyncio
import threading

import pytest

from core.broker_auth import API_ACCOUNT
from simulators.demand import local_day_start
from simulators.fleet import Fleet, FleetConfig
from simulators.publisher import PublisherJob, run_stream
from simulators.registration import register_fleet
from tests.simulators.conftest import Collector
from tests.simulators.test_publisher import backfill_plan
from wire.topics import serial_from_topic

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

    async def test_each_meter_gets_a_broker_login_its_publisher_uses(self, session, own_broker):
        config = FleetConfig(meters=3, seed=4, serial_prefix="IDS")
        fleet = Fleet(config)
        collector = Collector(own_broker)
        # The API's account may not publish: what arrives came over the meters' own logins.
        mqtt = own_broker.settings(API_ACCOUNT)
        done = await register_fleet(session, fleet=fleet, country_code="PG", mqtt=mqtt)
        assert sorted(done.credentials) == sorted(fleet.serials)
        job = PublisherJob(
            fleet=config, plan=backfill_plan(fleet, 2), mqtt=mqtt, credentials=done.credentials
        )
        stats = await asyncio.to_thread(run_stream, job, threading.Event())
        received = collector.wait_for(stats.sent)
        collector.close()
        assert stats.sent > 0
        assert len(received) == stats.sent
        assert {serial_from_topic("wb", topic) for topic, _ in received} == set(fleet.serials)

    async def test_rerunning_the_fleet_rotates_its_logins_and_the_broker_survives(
        self, session, own_broker
    ):
        """Each run issues every meter a new login and reloads the broker: a meter session left
        behind by the run before would make Mosquitto 2.0.11 crash (docs/deploy.md)."""
        config = FleetConfig(meters=25, seed=5, serial_prefix="ROT")
        fleet = Fleet(config)
        mqtt = own_broker.settings(API_ACCOUNT)
        for _ in range(3):
            done = await register_fleet(session, fleet=fleet, country_code="PG", mqtt=mqtt)
            await session.commit()
            job = PublisherJob(
                fleet=config, plan=backfill_plan(fleet, 1), mqtt=mqtt, credentials=done.credentials
            )
            stats = await asyncio.to_thread(run_stream, job, threading.Event())
            assert stats.acked == stats.sent > 0
        own_broker.stop()  # raises if it crashed, now or on the way down

    async def test_without_a_broker_password_file_no_login_is_issued(self, session):
        fleet = Fleet(FleetConfig(meters=2, serial_prefix="NOID"))
        done = await register_fleet(session, fleet=fleet, country_code="PG")
        assert done.credentials == {}
