"""Publish rates of the simulator against raw paho, measured in the same run.

Baseline: one paho client publishing the same single-reading payload at QoS 1 in a tight loop
(100 in flight), so the figure shows what the fleet model, encoding and window cost on top.

    .venv/bin/python -m bench.simulator_publish [--messages 100000]
"""

from __future__ import annotations

import argparse
import logging
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from core.config import MqttSettings
from core.local_mosquitto import LocalMosquitto
from simulators.fleet import Fleet, FleetConfig
from simulators.load import LOAD_CONTEXT, run_load
from simulators.publisher import PublisherJob, StreamPlan, run_stream

logger = logging.getLogger("bench")
PAYLOAD = (
    b'{"time":"2026-11-22T14:00:00+00:00","index_l":468430,"flow_lph":12.5,'
    b'"battery_pct":86,"signal_dbm":-62}'
)


def raw_paho(port: int, messages: int) -> float:
    acked = 0
    done = threading.Event()

    def on_publish(*_: object) -> None:
        nonlocal acked
        acked += 1
        if acked == messages:
            done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-raw", protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(100)
    client.max_queued_messages_set(0)
    client.on_publish = on_publish
    client.connect("127.0.0.1", port)
    client.loop_start()
    started = time.perf_counter()
    for _ in range(messages):
        client.publish("wb/0/meters/BENCH-1/up", PAYLOAD, qos=1)
    done.wait(300)
    elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    client.on_publish = None
    return messages / elapsed


def fleet_rate(port: int, messages: int, publishers: int) -> float:
    config = FleetConfig(meters=10_000)
    fleet = Fleet(config)
    slots = messages // config.meters + 2
    plan = StreamPlan(start=fleet.slot_end(24 * 300), end=fleet.slot_end(24 * 300 + slots))
    mqtt_settings = MqttSettings(port=port)
    shares = [messages // publishers] * publishers
    jobs = [
        PublisherJob(
            fleet=config,
            plan=StreamPlan(start=plan.start, end=plan.end, max_messages=share),
            mqtt=mqtt_settings,
            index=i,
            count=publishers,
            client_id=f"bench-fleet-{publishers}",
        )
        for i, share in enumerate(shares)
    ]
    if publishers == 1:
        stats = run_stream(jobs[0], threading.Event())
    else:
        stats = run_load(jobs, LOAD_CONTEXT.Event())
    return stats.acked / stats.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with LocalMosquitto(allow_anonymous=True) as broker:
        baseline = raw_paho(broker.port, args.messages)
        rows = [("raw paho, 1 client (baseline)", baseline)]
        for publishers in (1, 2, 4):
            rate = fleet_rate(broker.port, args.messages, publishers)
            rows.append((f"waterbill simulate, {publishers} publisher(s)", rate))
    width = max(len(name) for name, _ in rows)
    for name, rate in rows:
        logger.info("%-*s %8.0f msg/s  (%.2fx baseline)", width, name, rate, rate / baseline)


if __name__ == "__main__":
    main()
