"""One identity per meter, end to end: the broker stops a meter publishing as another."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from core.broker_auth import TEST_ACCOUNT
from registry.credentials import write_credentials
from tests.ingest.conftest import Publisher, register, wait_for_rows
from wire.codec import encode_reading

pytestmark = pytest.mark.services

T = datetime(2026, 11, 20, tzinfo=UTC)
NOT_AUTHORIZED = 0x87


class TestMeterIdentity:
    def test_meter_a_cannot_publish_as_meter_b(self, db, database_url, own_broker, start_worker):
        register(db, ["IDA-1", "IDB-1"])
        logins = write_credentials(own_broker.settings(TEST_ACCOUNT), serials=["IDA-1"])
        worker = start_worker(database_url, own_broker)
        worker.wait_subscribed()
        meter_a = Publisher(own_broker, username="IDA-1", password=logins[0].password)
        reasons: dict[int, int] = {}
        acked = threading.Event()

        def on_publish(_c, _u, mid, reason, _p) -> None:
            reasons[mid] = reason.value
            if len(reasons) == 2:
                acked.set()

        meter_a.client.on_publish = on_publish
        as_b = meter_a.send("IDB-1", encode_reading(T, 100))
        own = meter_a.send("IDA-1", encode_reading(T, 200))
        assert acked.wait(10)
        meter_a.close()
        assert reasons == {as_b.mid: NOT_AUTHORIZED, own.mid: 0}
        assert wait_for_rows(db, "SELECT count(*) FROM reading", 1) == 1
        time.sleep(0.5)
        assert worker.stop() == 0
        rows = db.execute(
            "SELECT m.serial, r.index_l FROM reading r JOIN meter m ON m.id = r.meter_id"
        )
        assert rows.fetchall() == [("IDA-1", 200)]
        assert db.execute("SELECT count(*) FROM quarantine").fetchone() == (0,)
