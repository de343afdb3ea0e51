"""Topic scheme: ``<prefix>/<shard>/meters/<serial>/up``.

The shard is a stable hash of the serial, so a meter always lands on the same topic and ingest
workers can split the shards between them statically (MQTT shared subscriptions lose messages
with persistent sessions on several brokers, eclipse-mosquitto/mosquitto#2662).
"""

from __future__ import annotations

import re
import zlib

# Serials are a topic level: no '/', '+' or '#', and short enough for one.
SERIAL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$"
SERIAL_RE = re.compile(SERIAL_PATTERN)


def shard_of(serial: str, shards: int) -> int:
    """Stable shard of a meter: crc32 is the same in every process and language."""
    return zlib.crc32(serial.encode()) % shards


def uplink_topic(prefix: str, shards: int, serial: str) -> str:
    return f"{prefix}/{shard_of(serial, shards)}/meters/{serial}/up"


def subscription_topic(prefix: str, shard: int) -> str:
    return f"{prefix}/{shard}/meters/+/up"


def serial_from_topic(prefix: str, topic: str) -> str | None:
    """The serial in an uplink topic, or None when the topic is not one of ours."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != prefix or parts[2] != "meters" or parts[4] != "up":
        return None
    if not parts[1].isdigit() or not SERIAL_RE.match(parts[3]):
        return None
    return parts[3]
