"""Household water demand, vectorised over meters with numpy.

Every quantity is a pure function of ``(seed, meter number, local day, step)``: the same meter
shows the same consumption whatever the fleet size, the publisher it is assigned to or the window
being simulated, so runs that overlap in time send identical readings (and ingest dedupes them).

Shape of the model (parameters and their sources in ``DemandParameters``):

- each household has occupants (1-8) and a per-capita daily use;
- each local day has a total = occupants x per-capita x weekday/weekend factor x day noise;
  totals are drawn from a counter-based hash, so the cumulative volume up to any day is cheap;
- the day's total is spread over the steps as discrete use events (taps, toilet flushes,
  showers, laundry) drawn around a daily profile with morning and evening peaks and near-zero
  nights; the steps are then scaled so they add up to the day's total exactly;
- volumes are integer millilitres, so the register index (floor of the cumulative litres, the
  fraction carried) is exact integer maths.

Future anomaly injection (leaks, bursts, vacancy, ...) plugs in through ``DemandModifier``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

SECONDS_PER_DAY = 86_400
# Day 0 of every simulated series. Cumulative volumes are computed from here, so it bounds the
# work of finding a meter's index at "now" (a few hundred days of hashed daily totals).
ANCHOR_DATE = date(2025, 1, 1)
# Meters draw their within-day randomness per block of this many meters: a meter's series does
# not depend on the fleet size, yet the draws stay vectorised.
RNG_BLOCK = 256

_U64 = np.uint64
_GOLDEN = _U64(0x9E3779B97F4A7C15)
_MIX1 = _U64(0xBF58476D1CE4E5B9)
_MIX2 = _U64(0x94D049BB133111EB)


def _splitmix(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """The splitmix64 finaliser: a well-mixed 64-bit hash (wrapping arithmetic is intended)."""
    x = (x ^ (x >> _U64(30))) * _MIX1
    x = (x ^ (x >> _U64(27))) * _MIX2
    return x ^ (x >> _U64(31))


def hashed_uniform(seed: int, stream: int, *keys: npt.ArrayLike) -> FloatArray:
    """Uniform [0, 1) numbers, a pure function of (seed, stream, keys) broadcast together."""
    arrays = np.broadcast_arrays(*[np.atleast_1d(np.asarray(k, dtype=np.int64)) for k in keys])
    h = np.full(arrays[0].shape, (seed * 1_000_003 + stream) & (2**64 - 1), dtype=np.uint64)
    for key in arrays:
        h = _splitmix(h + _GOLDEN + key.astype(np.uint64))
    return (h >> _U64(11)).astype(np.float64) * 2.0**-53


def hashed_normal(seed: int, stream: int, *keys: npt.ArrayLike) -> FloatArray:
    """Standard normal numbers by Box-Muller over two hashed uniforms."""
    u1 = hashed_uniform(seed, stream, *keys)
    u2 = hashed_uniform(seed, stream + 1_000, *keys)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


@dataclass(frozen=True)
class UseEvent:
    """A kind of water use: volume per event, how long it runs, and its share of the day."""

    name: str
    volume_l: float
    duration_s: float
    weekday_share: float
    weekend_share: float


# Hourly profile of use (relative weights, local time, hour h covers [h, h+1)). Shape of the
# residential diurnal curves in the end-use literature (e.g. Buchberger & Wells 1996; DeOreo et
# al., Residential End Uses of Water v2, 2016): a morning peak around 06-08 before work and
# school, a lower midday plateau, the evening peak around 18-20, and very little between 00-05.
WEEKDAY_PROFILE = (
    0.25, 0.15, 0.1, 0.1, 0.3, 1.5, 4.5, 7.5, 6.5, 4.5, 3.8, 3.6,
    4.0, 3.6, 3.0, 3.0, 3.6, 5.5, 7.5, 7.8, 6.2, 4.2, 2.2, 0.8,
)  # fmt: skip
# Weekends: people sleep in (the morning peak moves to 08-10) and stay home at midday.
WEEKEND_PROFILE = (
    0.3, 0.2, 0.12, 0.1, 0.12, 0.4, 1.2, 3.5, 6.5, 7.5, 6.8, 5.8,
    5.5, 5.0, 4.5, 4.3, 4.6, 5.6, 7.0, 7.2, 6.0, 4.5, 2.6, 1.0,
)  # fmt: skip


@dataclass(frozen=True)
class DemandParameters:
    """The knobs of the demand model, with where their values come from.

    Args:
        household_size_p: probability of 1..8 occupants. Mean about 4.5: the UN household size
            database puts Papua New Guinea and Cameroon around 5 people per household, urban
            households (the piped-water customers) a little smaller.
        per_capita_median_l: median litres per person per day. WHO (Howard & Bartram 2003,
            "Domestic water quantity, service level and health") puts households with a tap in
            the yard at ~50 L/p/d and several taps in the house at ~100 L/p/d or more.
        per_capita_sigma: log-normal spread of per-capita use between households.
        per_capita_range_l: clip of per-capita use (40-150 L/p/d for the target countries).
        weekend_factor: weekend days use this much more (people at home, laundry).
        day_sigma: log-normal day-to-day variation of a household's total.
        events: the uses the day is made of. Volumes and durations from the end-use studies
            (toilet ~6 L; shower ~8 L/min for ~6 min; tap uses of a few litres; a washing load
            ~50-60 L, more of them at weekends); shares adapted to homes where laundry is
            often by hand and fewer have machines.
        event_volume_cv: spread of single-event volumes (gamma noise per step).
    """

    household_size_p: tuple[float, ...] = (0.08, 0.12, 0.15, 0.17, 0.16, 0.13, 0.10, 0.09)
    per_capita_median_l: float = 75.0
    per_capita_sigma: float = 0.35
    per_capita_range_l: tuple[float, float] = (40.0, 150.0)
    weekend_factor: float = 1.10
    day_sigma: float = 0.15
    weekday_profile: tuple[float, ...] = WEEKDAY_PROFILE
    weekend_profile: tuple[float, ...] = WEEKEND_PROFILE
    events: tuple[UseEvent, ...] = (
        UseEvent("tap", volume_l=3.0, duration_s=60, weekday_share=0.38, weekend_share=0.33),
        UseEvent("toilet", volume_l=6.0, duration_s=90, weekday_share=0.27, weekend_share=0.24),
        UseEvent("shower", volume_l=45.0, duration_s=360, weekday_share=0.25, weekend_share=0.21),
        UseEvent("laundry", volume_l=55.0, duration_s=900, weekday_share=0.10, weekend_share=0.22),
    )
    event_volume_cv: float = 0.35


class DemandModifier(Protocol):
    """A change to some meters' consumption (leak, burst, vacancy, ...) for anomaly injection.

    Called with daily totals (to accumulate the index cheaply) and with each day's steps: the
    volume it moves must be the same whichever way a day is cut, so that the index stays one
    function of time (e.g. extra flow integrated over time; zeroing whole local days).
    """

    def adjust(
        self, meters: IntArray, starts_s: IntArray, ends_s: IntArray, volumes_ml: IntArray
    ) -> None:
        """Change in place the volumes (meters x intervals) used over [starts_s, ends_s)."""


def local_day_start(day: int, utc_offset_s: int) -> datetime:
    """UTC instant of local midnight starting simulated day ``day``."""
    anchor = datetime(ANCHOR_DATE.year, ANCHOR_DATE.month, ANCHOR_DATE.day, tzinfo=UTC)
    return anchor + timedelta(days=day, seconds=-utc_offset_s)


def day_of(epoch_s: float, utc_offset_s: int) -> int:
    """Simulated day (local calendar) holding the instant ``epoch_s``."""
    anchor = local_day_start(0, utc_offset_s).timestamp()
    return int((epoch_s - anchor) // SECONDS_PER_DAY)


def is_weekend(days: IntArray) -> npt.NDArray[np.bool_]:
    weekday = (ANCHOR_DATE.weekday() + days) % 7
    return np.asarray(weekday >= 5)


def step_profile(hourly: Sequence[float], step_s: int) -> FloatArray:
    """Share of the day's use in each step: the hourly curve, interpolated, summing to 1."""
    steps = SECONDS_PER_DAY // step_s
    mid_hours = (np.arange(steps) * step_s + step_s / 2) / 3600.0
    centres = np.arange(24) + 0.5
    weights = np.interp(mid_hours, centres, np.asarray(hourly, dtype=np.float64), period=24.0)
    return np.asarray(weights / weights.sum(), dtype=np.float64)


@dataclass
class HouseholdDemand:
    """Demand of the households behind a set of meters (numbered from 1, any subset)."""

    meters: IntArray
    seed: int
    params: DemandParameters = field(default_factory=DemandParameters)
    modifiers: Sequence[DemandModifier] = ()
    utc_offset_s: int = 0
    occupants: IntArray = field(init=False)
    per_capita_l: FloatArray = field(init=False)

    def __post_init__(self) -> None:
        self.meters = np.asarray(self.meters, dtype=np.int64)
        p = np.asarray(self.params.household_size_p, dtype=np.float64)
        cdf = np.cumsum(p / p.sum())
        u = hashed_uniform(self.seed, 1, self.meters)
        self.occupants = (np.searchsorted(cdf, u, side="right") + 1).astype(np.int64)
        z = hashed_normal(self.seed, 2, self.meters)
        low, high = self.params.per_capita_range_l
        self.per_capita_l = np.clip(
            self.params.per_capita_median_l * np.exp(self.params.per_capita_sigma * z), low, high
        )

    @property
    def mean_daily_l(self) -> FloatArray:
        return np.asarray(self.occupants * self.per_capita_l, dtype=np.float64)

    def daily_totals_ml(self, days: IntArray, *, modified: bool = True) -> IntArray:
        """Each meter's consumption on each day, integer millilitres (meters x days).

        ``modified=False`` leaves out the modifiers (injected anomalies).
        """
        days = np.atleast_1d(np.asarray(days, dtype=np.int64))
        factor = np.where(is_weekend(days), self.params.weekend_factor, 1.0)
        noise = np.exp(
            self.params.day_sigma * hashed_normal(self.seed, 3, self.meters[:, None], days[None])
        )
        litres = self.mean_daily_l[:, None] * factor[None, :] * np.clip(noise, 0.5, 2.0)
        totals: IntArray = np.rint(litres * 1000.0).astype(np.int64)
        if modified and self.modifiers:
            starts = self.day_start_s(days)
            for modifier in self.modifiers:
                modifier.adjust(self.meters, starts, starts + SECONDS_PER_DAY, totals)
        return totals

    def day_start_s(self, days: IntArray) -> IntArray:
        """Epoch seconds of the local midnights starting ``days``."""
        anchor = int(local_day_start(0, self.utc_offset_s).timestamp())
        return np.asarray(anchor + days * SECONDS_PER_DAY, dtype=np.int64)

    def cumulative_ml_before(self, day: int, *, chunk_days: int = 64) -> IntArray:
        """Volume each meter used from day 0 up to the start of ``day`` (exact, millilitres)."""
        if day < 0:
            raise ValueError(f"day {day} is before the simulation anchor {ANCHOR_DATE}")
        total = np.zeros(len(self.meters), dtype=np.int64)
        for first in range(0, day, chunk_days):
            days = np.arange(first, min(first + chunk_days, day), dtype=np.int64)
            total += self.daily_totals_ml(days).sum(axis=1)
        return total

    def day_steps_ml(self, day: int, step_s: int) -> IntArray:
        """One local day's consumption per step (meters x steps), rows summing to the total.

        Raises:
            ValueError: ``step_s`` does not divide a day.
        """
        if step_s <= 0 or SECONDS_PER_DAY % step_s:
            raise ValueError(f"step {step_s} s does not divide a day of {SECONDS_PER_DAY} s")
        # The household's own use is spread first; modifiers then add or remove their volume
        # step by step, ending on the modified daily totals.
        totals = self.daily_totals_ml(np.array([day]), modified=False)[:, 0]
        weekend = bool(is_weekend(np.array([day]))[0])
        profile = step_profile(
            self.params.weekend_profile if weekend else self.params.weekday_profile, step_s
        )
        weights = self._event_weights(day, step_s, profile, weekend)
        row_sums = weights.sum(axis=1)
        empty = row_sums <= 0
        weights[empty] = profile
        row_sums[empty] = 1.0
        cum = np.floor(np.cumsum(weights, axis=1) / row_sums[:, None] * totals[:, None])
        cum_ml = cum.astype(np.int64)
        cum_ml[:, -1] = totals
        np.maximum.accumulate(cum_ml, axis=1, out=cum_ml)
        steps: IntArray = np.diff(cum_ml, axis=1, prepend=0)
        if self.modifiers:
            starts = self.day_start_s(np.array([day]))[0] + step_s * np.arange(len(profile))
            for modifier in self.modifiers:
                modifier.adjust(self.meters, starts, starts + step_s, steps)
        return steps

    def _event_weights(
        self, day: int, step_s: int, profile: FloatArray, weekend: bool
    ) -> FloatArray:
        """Litres of discrete use events per step, drawn per block of meters.

        The whole block is drawn, from its unmodified totals, so that a meter's events depend
        neither on which other meters are simulated nor on injected anomalies.
        """
        n_steps = len(profile)
        weights = np.zeros((len(self.meters), n_steps), dtype=np.float64)
        blocks = self.meters // RNG_BLOCK
        shape_k = 1.0 / self.params.event_volume_cv**2
        for block in np.unique(blocks):
            rows = np.flatnonzero(blocks == block)
            offsets = self.meters[rows] - block * RNG_BLOCK
            rng = np.random.default_rng([self.seed, 7, day, int(block)])
            members = HouseholdDemand(
                np.arange(RNG_BLOCK, dtype=np.int64) + block * RNG_BLOCK, self.seed, self.params
            )
            block_totals = members.daily_totals_ml(np.array([day]))[:, 0] / 1000.0
            block_weights = np.zeros((RNG_BLOCK, n_steps), dtype=np.float64)
            for event in self.params.events:
                share = event.weekend_share if weekend else event.weekday_share
                rate = block_totals[:, None] * share * profile[None, :] / event.volume_l
                starts = rng.poisson(rate)
                span = max(1, round(event.duration_s / step_s))
                # Events started in the last `span` steps are still running.
                running = np.cumsum(starts, axis=1)
                running[:, span:] -= running[:, :-span].copy()
                jitter = rng.gamma(shape_k, 1.0 / shape_k, size=running.shape)
                block_weights += running * (event.volume_l / span) * jitter
            weights[rows] = block_weights[offsets]
        return weights
