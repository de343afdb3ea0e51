from datetime import UTC, date, datetime

import numpy as np
import pytest

from simulators.anomalies import ExtraFlow, Vacancy
from simulators.demand import SECONDS_PER_DAY, DemandModifier
from simulators.fleet import Fleet, FleetConfig

CONFIG = FleetConfig(meters=8, interval_s=3600)
LEAK_START = datetime(2025, 6, 10, 3, 30, tzinfo=UTC)
LEAK = ExtraFlow(meter=3, start=LEAK_START, flow_lph=12.5)
VACANCY = Vacancy(
    meter=5,
    first_day=date(2025, 6, 11),
    last_day=date(2025, 6, 12),
    utc_offset_s=CONFIG.utc_offset_s,
)


def window(fleet: Fleet, first: datetime, days: int):
    step = int((first.timestamp() - fleet.anchor_epoch()) // CONFIG.interval_s)
    return fleet.readings(step, days * SECONDS_PER_DAY // CONFIG.interval_s)


class TestExtraFlow:
    def test_a_leak_adds_its_volume_to_the_index_and_nothing_else(self):
        plain = window(Fleet(CONFIG), datetime(2025, 6, 9, tzinfo=UTC), 4)
        leaking = window(Fleet(CONFIG, modifiers=[LEAK]), datetime(2025, 6, 9, tzinfo=UTC), 4)
        times = plain[0]
        extra = leaking[1] - plain[1]
        hours = np.clip(times - LEAK_START.timestamp(), 0, None) / 3600
        assert np.array_equal(np.delete(extra, 2, axis=0), np.zeros((7, len(times))))
        assert np.all(np.abs(extra[2] - 12.5 * hours) <= 1)
        assert extra[2, -1] > 12.5 * 24 * 2

    def test_a_leak_keeps_the_night_flow_above_zero(self):
        _, _, flow = window(Fleet(CONFIG, modifiers=[LEAK]), datetime(2025, 6, 11, tzinfo=UTC), 2)
        assert flow[2].min() >= 12.5 - 0.01
        assert flow[[0, 1, 3]].min() == 0

    def test_its_label_says_where_and_when(self):
        label = LEAK.label
        assert (label.meter, label.kind, label.start, label.end) == (3, "leak", LEAK_START, None)
        assert label.anomalous


class TestVacancy:
    def test_no_use_during_the_vacancy_then_use_again(self):
        fleet = Fleet(CONFIG, modifiers=[VACANCY])
        times, index, flow = window(fleet, datetime(2025, 6, 10, tzinfo=UTC), 4)
        inside = (times > VACANCY.start.timestamp()) & (times <= VACANCY.end.timestamp())
        assert inside.sum() == 48
        assert flow[4, inside].max() == 0
        assert np.unique(index[4, inside]).size == 1
        assert flow[4, ~inside].max() > 0

    def test_a_vacancy_is_a_negative_example(self):
        assert VACANCY.label.anomalous is False
        assert (VACANCY.label.start, VACANCY.label.end) == (VACANCY.start, VACANCY.end)


class TestIndexIsOneFunctionOfTime:
    @pytest.mark.parametrize("interval_s", [900, 3600])
    def test_starting_late_or_walking_there_gives_the_same_index(self, interval_s):
        config = FleetConfig(meters=8, interval_s=interval_s)
        modifiers: list[DemandModifier] = [
            LEAK,
            VACANCY,
            ExtraFlow(
                meter=1,
                start=LEAK_START,
                flow_lph=400,
                end=datetime(2025, 6, 12, 1, 15, tzinfo=UTC),
                kind="burst",
            ),
        ]
        per_day = SECONDS_PER_DAY // interval_s
        walker = Fleet(config, modifiers=modifiers)
        day = 160  # 2025-06-10
        for d in range(day - 2, day + 3):
            walked = walker.readings(d * per_day, per_day)[1]
        fresh = Fleet(config, modifiers=modifiers).readings((day + 2) * per_day, per_day)[1]
        assert np.array_equal(walked, fresh)
