from datetime import UTC, date, datetime, timedelta

import numpy as np
import orjson
import pytest

from simulators.anomalies import (
    EVALUATION_KINDS,
    KINDS,
    NEGATIVE_KINDS,
    ExtraFlow,
    Silent,
    Stuck,
    Tamper,
    Vacancy,
    label_records,
    plan_evaluation,
    plan_injection,
)
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


FAULT_START = datetime(2025, 6, 10, 7, 20, tzinfo=UTC)


def readings_of(fleet: Fleet, serial: str, slots: range):
    return [
        orjson.loads(upload.payload)
        for slot in slots
        for upload in fleet.slot_uploads(slot)
        if upload.serial == serial
    ]


SLOTS = range(160 * 24 - 10, 160 * 24 + 40)  # hourly slots around 2025-06-10


class TestMeterFaults:
    def test_a_stuck_meter_repeats_its_index_and_reports_no_flow(self):
        fleet = Fleet(CONFIG, faults=[Stuck(meter=2, start=FAULT_START)])
        sent = readings_of(fleet, "SIM-000002", SLOTS)
        after = [r for r in sent if datetime.fromisoformat(r["time"]) > FAULT_START]
        before = [r for r in sent if datetime.fromisoformat(r["time"]) <= FAULT_START]
        assert {r["index_l"] for r in after} == {before[-1]["index_l"]}
        assert {r["flow_lph"] for r in after} == {0.0}
        assert (
            readings_of(Fleet(CONFIG), "SIM-000002", SLOTS)[-1]["index_l"] > before[-1]["index_l"]
        )

    def test_a_silent_meter_sends_nothing_and_the_truth_agrees(self):
        fleet = Fleet(CONFIG, faults=[Silent(meter=4, start=FAULT_START)])
        sent = readings_of(fleet, "SIM-000004", SLOTS)
        truth = [
            r
            for s in SLOTS
            for u in fleet.slot_uploads(s)
            for r in u.readings
            if r.serial == "SIM-000004"
        ]
        assert max(datetime.fromisoformat(r["time"]) for r in sent) <= FAULT_START
        assert len(truth) == len(sent)
        assert len(readings_of(fleet, "SIM-000005", SLOTS)) == len(SLOTS)

    def test_a_tampered_meter_raises_its_alarm_in_the_window_only(self):
        tamper = Tamper(meter=6, start=FAULT_START, end=FAULT_START + timedelta(hours=6))
        sent = readings_of(Fleet(CONFIG, faults=[tamper]), "SIM-000006", SLOTS)
        flagged = [r for r in sent if "tamper" in r.get("alarms", [])]
        assert len(flagged) == 6
        assert all(tamper.start < datetime.fromisoformat(r["time"]) <= tamper.end for r in flagged)

    def test_backflow_runs_the_index_backwards_with_the_alarm(self):
        backflow = ExtraFlow(
            meter=1,
            start=datetime(2025, 6, 10, 16, tzinfo=UTC),
            flow_lph=-400.0,
            end=datetime(2025, 6, 10, 18, tzinfo=UTC),
            kind="backflow",
        )
        sent = readings_of(Fleet(CONFIG, modifiers=[backflow]), "SIM-000001", SLOTS)
        reverse = [r for r in sent if r["flow_lph"] < 0]
        assert reverse
        assert all("backflow" in r["alarms"] for r in reverse)
        steps = np.diff([r["index_l"] for r in sent])
        assert steps.min() < 0


class TestPlanInjection:
    def test_each_kind_in_turn_on_distinct_meters_within_the_window(self):
        start, end = datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 6, 8, tzinfo=UTC)
        injection = plan_injection(
            meters=100, count=14, start=start, end=end, seed=3, utc_offset_s=36000
        )
        labels = injection.labels
        assert sorted(label.kind for label in labels) == sorted(KINDS * 2)
        assert len({label.meter for label in labels}) == 14
        assert all(start <= label.start <= end + timedelta(days=1) for label in labels)
        assert [label.anomalous for label in labels if label.kind == "vacancy"] == [False, False]
        again = plan_injection(
            meters=100, count=14, start=start, end=end, seed=3, utc_offset_s=36000
        )
        assert again.labels == labels

    def test_label_records_name_the_serial(self):
        records = label_records([LEAK.label], "SIM")
        assert records == [
            {
                "serial": "SIM-000003",
                "kind": "leak",
                "start": "2025-06-10T03:30:00+00:00",
                "end": None,
                "flow_lph": 12.5,
                "anomalous": True,
            }
        ]


class TestPlanEvaluation:
    START = datetime(2025, 6, 1, tzinfo=UTC)
    END = datetime(2025, 6, 11, tzinfo=UTC)

    def _plan(self, per_kind=3):
        return plan_evaluation(
            meters=60,
            per_kind=per_kind,
            start=self.START,
            end=self.END,
            seed=5,
            utc_offset_s=CONFIG.utc_offset_s,
        )

    def test_each_kind_gets_its_own_meters(self):
        labels = self._plan().labels
        by_kind = {kind: [lb for lb in labels if lb.kind == kind] for kind in EVALUATION_KINDS}
        assert all(len(found) == 3 for found in by_kind.values())
        assert len({lb.meter for lb in labels}) == len(labels)

    def test_negatives_are_labelled_as_such(self):
        labels = self._plan().labels
        assert {lb.kind for lb in labels if not lb.anomalous} == set(NEGATIVE_KINDS)

    def test_anomalies_start_inside_the_window_and_backflow_at_night(self):
        for label in self._plan().labels:
            assert self.START - timedelta(days=1) <= label.start < self.END
            if label.kind == "backflow":
                local_hour = (label.start + timedelta(seconds=CONFIG.utc_offset_s)).hour
                assert 1 <= local_hour < 4

    def test_a_shower_is_one_short_heavy_flow(self):
        [shower, *_] = [m for m in self._plan().modifiers if m.kind == "shower"]
        assert shower.end is not None
        assert shower.end - shower.start <= timedelta(minutes=25)
        assert shower.flow_lph * (shower.end - shower.start) / timedelta(hours=1) <= 300

    def test_too_few_meters_is_refused(self):
        with pytest.raises(ValueError, match="need"):
            plan_evaluation(
                meters=5, per_kind=1, start=self.START, end=self.END, seed=1, utc_offset_s=0
            )
