import threading

import pytest

from core.broker_auth import TEST_ACCOUNT
from core.config import MqttSettings
from simulators.fleet import Fleet, FleetConfig
from simulators.load import LOAD_CONTEXT, run_load
from simulators.publisher import (
    Publisher,
    PublisherJob,
    PublishError,
    StreamPlan,
    run_stream,
)
from tests.broker import suite_broker
from tests.simulators.test_fleet import FIRST_SLOT, stored_from, truth_of

pytestmark = pytest.mark.services


def backfill_plan(fleet: Fleet, slots: int, **extra) -> StreamPlan:
    return StreamPlan(
        start=fleet.slot_end(FIRST_SLOT - 1), end=fleet.slot_end(FIRST_SLOT + slots - 1), **extra
    )


class TestPublisher:
    def test_unreachable_broker_is_a_clear_error(self):
        from core.local_services import free_port

        publisher = Publisher(MqttSettings(port=free_port()), client_id="sim-test-nobody")
        with pytest.raises(PublishError, match="no MQTT broker answered"):
            publisher.connect(timeout=1.0)


class TestRunStream:
    def test_every_message_arrives_and_the_ground_truth_is_exact(self, local_broker, collector):
        config = FleetConfig(
            meters=30, batch=6, duplicate_p=0.1, out_of_order_p=0.2, max_drift_s=15
        )
        fleet = Fleet(config)
        slots = 8
        expected = truth_of(
            u for batch in fleet.uploads(FIRST_SLOT, FIRST_SLOT + slots - 1) for u in batch
        )
        job = PublisherJob(
            fleet=config,
            plan=backfill_plan(fleet, slots),
            mqtt=local_broker.settings(TEST_ACCOUNT),
            client_id="sim-test-stream",
            max_inflight=16,
        )
        stats = run_stream(job, threading.Event())
        received = collector.wait_for(stats.sent)
        assert stats.sent > 30 * slots  # duplicates were sent
        assert stats.acked == stats.sent
        assert stats.readings == 30 * 6 * slots
        assert len(received) == stats.sent
        assert stored_from(received) == expected

    def test_a_stop_request_ends_a_realtime_run(self, local_broker):
        config = FleetConfig(meters=3)
        fleet = Fleet(config)
        stop = threading.Event()
        plan = StreamPlan(start=fleet.slot_end(FIRST_SLOT), realtime=True, speed=1.0)
        job = PublisherJob(fleet=config, plan=plan, mqtt=local_broker.settings(TEST_ACCOUNT))
        timer = threading.Timer(1.0, stop.set)
        timer.start()
        stats = run_stream(job, stop)
        timer.join()
        assert stats.seconds < 10
        assert stats.acked == stats.sent


class TestRunLoad:
    def test_a_backlog_is_split_over_processes_and_delivered(self, local_broker, collector):
        config = FleetConfig(meters=40)
        fleet = Fleet(config)
        mqtt = local_broker.settings(TEST_ACCOUNT)
        plans = [backfill_plan(fleet, 50, max_messages=share) for share in (301, 300)]
        jobs = [
            PublisherJob(fleet=config, plan=plan, mqtt=mqtt, index=i, count=2, client_id="sim-load")
            for i, plan in enumerate(plans)
        ]
        stats = run_load(jobs, LOAD_CONTEXT.Event())
        received = collector.wait_for(601)
        assert stats.sent == stats.acked == 601
        assert len(received) == 601
        assert len(set(received)) == 601


class TestReconnect:
    def test_a_broker_restart_mid_stream_loses_no_acknowledgement(self, tmp_path):
        with suite_broker(root=tmp_path / "broker") as broker:
            config = FleetConfig(meters=50)
            fleet = Fleet(config)
            plan = backfill_plan(fleet, 60, rate=1000.0)
            job = PublisherJob(
                fleet=config, plan=plan, mqtt=broker.settings(TEST_ACCOUNT), client_id="sim-rc"
            )
            restart = threading.Timer(1.0, broker.restart)
            restart.start()
            stats = run_stream(job, threading.Event())
            restart.join()
        assert stats.sent == 50 * 60
        assert stats.acked == stats.sent
        assert stats.reconnects >= 1
