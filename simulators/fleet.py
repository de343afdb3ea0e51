"""A fleet of virtual meters: what each meter measures, when it uploads, and how it arrives.

A meter takes a reading every ``interval_s`` on a grid aligned to local midnight, and uploads
its readings ``batch`` at a time, at a per-meter moment after the last one (meters do not all
wake at the same second). Its device clock is off by a fixed offset plus a ppm drift since its
daily clock sync, and the device timestamp is what it sends (and what ingest stores).

``Fleet.uploads`` yields what the meters send, each upload carrying its ground truth (the
readings that must end up stored); ``deliver`` then applies the network's faults (duplicate
sends, out-of-order delivery within a window) to the message stream.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import numpy as np
import numpy.typing as npt
import orjson

from core.exceptions import InvalidInput
from simulators.demand import (
    SECONDS_PER_DAY,
    DemandModifier,
    DemandParameters,
    FloatArray,
    HouseholdDemand,
    IntArray,
    hashed_normal,
    hashed_uniform,
    local_day_start,
)
from wire.alarms import Alarm
from wire.codec import encode_reading
from wire.schema import MAX_READINGS_PER_MESSAGE
from wire.topics import uplink_topic

LOW_BATTERY_PCT = 10


@dataclass(frozen=True)
class FleetConfig:
    """What the fleet looks like; every field is a CLI option of ``waterbill simulate``."""

    meters: int = 200
    seed: int = 1
    interval_s: int = 3600
    batch: int = 1
    serial_prefix: str = "SIM"
    register_digits: int = 9
    utc_offset_s: int = 10 * 3600
    max_drift_s: float = 0.0
    drift_ppm: float = 0.0
    duplicate_p: float = 0.0
    out_of_order_p: float = 0.0
    reorder_window: int = 50
    topic_prefix: str = "wb"
    shards: int = 16

    def problems(self) -> list[str]:
        found = []
        if self.meters < 1:
            found.append("meters must be at least 1")
        if self.interval_s <= 0 or SECONDS_PER_DAY % self.interval_s:
            found.append(f"interval {self.interval_s} s must divide a day (86400 s)")
        if not 1 <= self.batch <= MAX_READINGS_PER_MESSAGE:
            found.append(f"batch {self.batch} must be between 1 and {MAX_READINGS_PER_MESSAGE}")
        if not 4 <= self.register_digits <= 12:
            found.append(f"register digits {self.register_digits} must be between 4 and 12")
        for name in ("duplicate_p", "out_of_order_p"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                found.append(f"{name} must be a probability between 0 and 1")
        if self.max_drift_s < 0 or self.drift_ppm < 0:
            found.append("clock drift bounds must not be negative")
        if self.reorder_window < 1:
            found.append("reorder window must be at least 1 message")
        return found

    def check(self) -> FleetConfig:
        """Raises InvalidInput naming every problem."""
        problems = self.problems()
        if problems:
            raise InvalidInput("; ".join(problems))
        return self

    @property
    def upload_period_s(self) -> int:
        return self.interval_s * self.batch


def serial_of(number: int, prefix: str = "SIM") -> str:
    return f"{prefix}-{number:06d}"


@dataclass(frozen=True)
class TruthReading:
    """A reading that must be stored: (serial, device time, register index)."""

    serial: str
    time: datetime
    index_l: int


@dataclass(frozen=True)
class Upload:
    """One message a meter sends: its topic, JSON payload, and the readings it carries."""

    serial: str
    topic: str
    payload: bytes
    send_at: float
    readings: tuple[TruthReading, ...]


@dataclass
class SlotReadings:
    """One upload slot's readings for every meter (meters x batch), before encoding."""

    times: FloatArray
    index_l: IntArray
    flow_lph: FloatArray
    alarms: IntArray
    sent: npt.NDArray[np.bool_]


class MeterFault(Protocol):
    """A fault of the meter itself (stuck register, silence, tamper): it changes what the meter
    sends, not what the household uses."""

    def apply(self, fleet: Fleet, readings: SlotReadings) -> None:
        """Change ``readings`` in place for the faulty meter."""


@dataclass
class _Day:
    cum_before_ml: IntArray
    cum_ml: IntArray
    steps_ml: IntArray


@dataclass
class Fleet:
    """The meters ``numbers`` (1-based; all of them by default) of a configured fleet."""

    config: FleetConfig
    numbers: IntArray | None = None
    params: DemandParameters = field(default_factory=DemandParameters)
    modifiers: Sequence[DemandModifier] = ()
    faults: Sequence[MeterFault] = ()
    demand: HouseholdDemand = field(init=False)
    serials: list[str] = field(init=False)
    _days: dict[int, _Day] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.config.check()
        if self.numbers is None:
            self.numbers = np.arange(1, self.config.meters + 1, dtype=np.int64)
        n: IntArray = np.asarray(self.numbers, dtype=np.int64)
        self.meter_numbers = n
        cfg = self.config
        self.demand = HouseholdDemand(n, cfg.seed, self.params, self.modifiers, cfg.utc_offset_s)
        self.serials = [serial_of(int(k), cfg.serial_prefix) for k in n]
        self.topics = [uplink_topic(cfg.topic_prefix, cfg.shards, s) for s in self.serials]
        # Index at the anchor: up to 2,000 m³ of earlier use, so registers look lived-in.
        self.initial_index_ml = (hashed_uniform(cfg.seed, 10, n) * 2_000_000_000).astype(np.int64)
        self.battery_start_pct = 80.0 + 20.0 * hashed_uniform(cfg.seed, 11, n)
        # 10-15 year batteries: a few hundredths of a percent a day.
        self.battery_drain_pct_day = 0.018 + 0.012 * hashed_uniform(cfg.seed, 12, n)
        self.signal_base_dbm = -110.0 + 50.0 * hashed_uniform(cfg.seed, 13, n)
        self.clock_offset_s = cfg.max_drift_s * (2.0 * hashed_uniform(cfg.seed, 14, n) - 1.0)
        self.clock_ppm = cfg.drift_ppm * (2.0 * hashed_uniform(cfg.seed, 15, n) - 1.0)
        # When, after its last reading, a meter uploads (a fraction of one interval).
        self.upload_phase = 0.9 * hashed_uniform(cfg.seed, 16, n)

    @property
    def size(self) -> int:
        return len(self.serials)

    @property
    def occupants(self) -> IntArray:
        return self.demand.occupants

    @property
    def initial_index_l(self) -> IntArray:
        """Register index at the anchor (installation), whole litres."""
        return self.initial_index_ml // 1000

    def _day(self, day: int) -> _Day:
        cached = self._days.get(day)
        if cached is not None:
            return cached
        previous = self._days.get(day - 1)
        if previous is not None:
            cum_before = previous.cum_before_ml + previous.cum_ml[:, -1]
        else:
            cum_before = self.demand.cumulative_ml_before(day)
        steps = self.demand.day_steps_ml(day, self.config.interval_s)
        entry = _Day(cum_before, np.cumsum(steps, axis=1), steps)
        self._days[day] = entry
        for old in [d for d in self._days if d < day - 1]:
            del self._days[old]
        return entry

    def anchor_epoch(self) -> float:
        return local_day_start(0, self.config.utc_offset_s).timestamp()

    def slot_of(self, epoch_s: float) -> int:
        """The upload slot whose last reading is at or before ``epoch_s``."""
        return int((epoch_s - self.anchor_epoch()) // self.config.upload_period_s) - 1

    def slot_end(self, slot: int) -> float:
        """True time of the last reading of upload slot ``slot``."""
        return self.anchor_epoch() + (slot + 1) * self.config.upload_period_s

    def readings(self, first_step: int, count: int) -> tuple[FloatArray, IntArray, FloatArray]:
        """Readings ending steps ``first_step .. first_step+count-1`` (0 = the anchor's first).

        Returns:
            (true times as epoch seconds (count,), register index in litres (meters x count),
            mean flow over the step in L/h (meters x count)).
        """
        interval = self.config.interval_s
        per_day = SECONDS_PER_DAY // interval
        index_ml = np.empty((self.size, count), dtype=np.int64)
        step_ml = np.empty((self.size, count), dtype=np.int64)
        steps = np.arange(first_step, first_step + count)
        for day in np.unique(steps // per_day):
            cols = np.flatnonzero(steps // per_day == day)
            within = steps[cols] - day * per_day
            entry = self._day(int(day))
            index_ml[:, cols] = (
                self.initial_index_ml[:, None]
                + entry.cum_before_ml[:, None]
                + entry.cum_ml[:, within]
            )
            step_ml[:, cols] = entry.steps_ml[:, within]
        times = self.anchor_epoch() + (steps + 1) * interval
        index_l = (index_ml // 1000) % 10**self.config.register_digits
        flow = step_ml / 1000.0 * (3600.0 / interval)
        return times.astype(np.float64), index_l, flow

    def index_at(self, number: int, at: datetime) -> int:
        """Register index of meter ``number`` at its last reading at or before ``at``."""
        step = int((at.timestamp() - self.anchor_epoch()) // self.config.interval_s) - 1
        alone = Fleet(self.config, np.array([number]), self.params, self.modifiers)
        return int(alone.readings(step, 1)[1][0, 0])

    def row_of(self, number: int) -> int | None:
        """Position of meter ``number`` in this fleet, None when it is not simulated here."""
        rows = np.flatnonzero(self.meter_numbers == number)
        return int(rows[0]) if rows.size else None

    def device_times(self, times: FloatArray) -> IntArray:
        """Device clock at true ``times`` (meters x times): offset, plus ppm since midnight sync."""
        since_sync = (times - self.anchor_epoch()) % SECONDS_PER_DAY
        skew = self.clock_offset_s[:, None] + self.clock_ppm[:, None] * 1e-6 * since_sync[None]
        return np.rint(times[None, :] + skew).astype(np.int64)

    def uploads(self, first_slot: int, last_slot: int | None = None) -> Iterator[list[Upload]]:
        """Every slot's uploads, slot by slot, each list in sending order (endless if no end)."""
        slot = first_slot
        while last_slot is None or slot <= last_slot:
            yield self.slot_uploads(slot)
            slot += 1

    def slot_uploads(self, slot: int) -> list[Upload]:
        cfg = self.config
        first_step = slot * cfg.batch
        if first_step < 0:
            raise InvalidInput("the simulation cannot start before its anchor date")
        times, index_l, flow = self.readings(first_step, cfg.batch)
        device = self.device_times(times)
        days = (times - self.anchor_epoch()) / SECONDS_PER_DAY
        battery = np.floor(
            self.battery_start_pct[:, None] - self.battery_drain_pct_day[:, None] * days[None]
        ).clip(0, 100)
        signal = np.rint(
            self.signal_base_dbm[:, None]
            + 3.0 * hashed_normal(cfg.seed, 17, self.meter_numbers[:, None], device)
        ).clip(-150, 0)
        alarms = np.where(battery <= LOW_BATTERY_PCT, int(Alarm.LOW_BATTERY), 0)
        # Meters flag reverse flow themselves.
        alarms = alarms | np.where(flow < 0, int(Alarm.BACKFLOW), 0)
        slot_readings = SlotReadings(
            times, index_l, flow, alarms.astype(np.int64), np.ones(index_l.shape, dtype=bool)
        )
        for fault in self.faults:
            fault.apply(self, slot_readings)
        send_at = times[-1] + self.upload_phase * cfg.interval_s
        order = np.argsort(send_at, kind="stable")
        # Plain Python lists: element access on numpy arrays costs more than the encoding.
        index_rows = slot_readings.index_l.tolist()
        flow_rows = np.round(slot_readings.flow_lph, 1).tolist()
        alarm_rows = slot_readings.alarms.tolist()
        device_rows = device.tolist()
        battery_rows = battery.astype(np.int64).tolist()
        signal_rows = signal.astype(np.int64).tolist()
        uploads = []
        for m in order.tolist():
            serial = self.serials[m]
            bodies = []
            truth = []
            for k in np.flatnonzero(slot_readings.sent[m]).tolist():
                stamp = datetime.fromtimestamp(device_rows[m][k], UTC)
                index = index_rows[m][k]
                alarm = alarm_rows[m][k]
                bodies.append(
                    encode_reading(
                        stamp,
                        index,
                        flow_lph=flow_rows[m][k],
                        battery_pct=battery_rows[m][k],
                        signal_dbm=signal_rows[m][k],
                        alarms=Alarm(alarm).names() if alarm else None,
                    )
                )
                truth.append(TruthReading(serial, stamp, index))
            if not bodies:
                continue
            body = bodies[0] if cfg.batch == 1 else {"readings": bodies}
            uploads.append(
                Upload(serial, self.topics[m], orjson.dumps(body), float(send_at[m]), tuple(truth))
            )
        return uploads


def deliver(
    messages: Iterable[tuple[str, bytes]],
    *,
    duplicate_p: float,
    out_of_order_p: float,
    window: int,
    seed: int,
) -> Iterator[tuple[str, bytes]]:
    """The network between meters and broker: some messages are held back by up to ``window``
    messages (out-of-order), some are sent twice (the copy within ``window`` messages).

    Streaming with a heap keyed on the message's due position: memory stays O(window).
    """
    rng = np.random.default_rng([seed, 99])
    due: list[tuple[int, int, int, tuple[str, bytes]]] = []
    position = -1
    for position, message in enumerate(messages):
        delay = int(rng.integers(1, window + 1)) if rng.random() < out_of_order_p else 0
        heapq.heappush(due, (position + delay, position, 0, message))
        if rng.random() < duplicate_p:
            copy_delay = int(rng.integers(0, window + 1))
            heapq.heappush(due, (position + copy_delay, position, 1, message))
        while due and due[0][0] <= position:
            yield heapq.heappop(due)[3]
    while due:
        yield heapq.heappop(due)[3]
