"""Messages on topics no ingest worker serves: counted and logged, not silently gone.

The broker accepts a PUBLISH on any topic a client may write to and drops it when nobody
subscribes: a meter configured with the wrong prefix, shard count or topic shape would go unseen.
The worker that consumes shard 0 therefore also watches the whole topic root (``<prefix>/#``)
on a second connection at QoS 0, with no session, so the broker queues nothing for it and
nothing is acknowledged on behalf of the readings' own subscriptions, and counts what falls
outside every shard of the deployment.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ingest import metrics
from ingest.mqtt_packets import Publish

logger = logging.getLogger("ingest.unserved")

# Topics remembered as served or not (one per meter, plus whatever strays): bounded.
TOPIC_CACHE_MAX = 100_000


def catch_all(prefix: str) -> str:
    return f"{prefix}/#"


class UnservedTopics:
    """``on_publish`` for the catch-all connection; one WARNING per interval with the count."""

    def __init__(
        self,
        prefix: str,
        shards: int,
        interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.prefix = prefix
        self.shards = shards
        self.interval_s = interval_s
        self.clock = clock
        self.served: dict[bytes, bool] = {}
        self.count = 0
        self.latest = ""
        # A first stray after a quiet interval is logged at once.
        self.since = clock() - interval_s

    def is_served(self, topic: str) -> bool:
        """Whether a shard subscription (``<prefix>/<shard>/meters/+/up``) of the deployment
        matches: a bad serial there is the shard worker's to quarantine, not a stray."""
        parts = topic.split("/")
        if len(parts) != 5 or parts[0] != self.prefix or parts[2:5:2] != ["meters", "up"]:
            return False
        shard = parts[1]
        return shard.isdecimal() and shard == str(int(shard)) and int(shard) < self.shards

    def on_publish(self, publishes: list[Publish]) -> None:
        served = self.served
        for raw_topic, _, _ in publishes:
            known = served.get(raw_topic)
            if known is None:
                if len(served) >= TOPIC_CACHE_MAX:
                    served.clear()
                known = served[raw_topic] = self.is_served(raw_topic.decode(errors="replace"))
            if not known:
                self.count += 1
                self.latest = raw_topic.decode(errors="replace")[:200]
                metrics.UNSERVED.inc()
        self.tick()

    def tick(self) -> None:
        if self.count and self.clock() - self.since >= self.interval_s:
            self.flush()

    def flush(self) -> None:
        now = self.clock()
        if self.count:
            logger.warning(
                "%d message%s on topics no ingest worker serves in %.0f s (shards 0-%d of %r);"
                " latest on %r",
                self.count,
                "" if self.count == 1 else "s",
                min(now - self.since, self.interval_s),
                self.shards - 1,
                self.prefix,
                self.latest,
            )
        self.count = 0
        self.since = now
