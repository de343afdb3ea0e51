from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sklearn.base import clone

from analytics.anomalies.detectors.abnormal import AbnormalConsumptionDetector
from analytics.anomalies.detectors.backflow import BackflowDetector
from analytics.anomalies.detectors.burst import BurstDetector
from analytics.anomalies.detectors.device_alarm import DeviceAlarmDetector
from analytics.anomalies.detectors.leak import LeakDetector
from analytics.anomalies.detectors.silent import SilentMeterDetector
from analytics.anomalies.detectors.stuck import StuckMeterDetector
from analytics.anomalies.features import ReadingSeries, consumption_features
from analytics.forecast.synthetic import daily_fleet
from analytics.incidents.models import IncidentKind, Severity
from tests.analytics.synthetic import START, household, split
from wire.alarms import Alarm

HISTORY = 28


def _utc(value: np.datetime64) -> datetime:
    return datetime.fromtimestamp(int(value.astype("datetime64[s]").astype(np.int64)), tz=UTC)


def _detect_leak(volumes):
    history, recent = split(volumes, HISTORY)
    return LeakDetector().fit(history).detect(recent)


class TestLeakDetector:
    def test_continuous_night_flow_is_an_ongoing_leak_with_checkable_evidence(self):
        volumes = household(42)
        volumes[-5 * 24 :] += 14  # a running toilet for the last 5 days
        [leak] = _detect_leak(volumes)
        assert leak.kind is IncidentKind.LEAK
        assert leak.severity is Severity.WARNING
        assert leak.ended_at is None
        assert leak.started_at == _utc(START + np.timedelta64(37, "D"))
        assert leak.evidence["nights"] == 5
        assert leak.evidence["baseline_lph"] == 0
        assert leak.evidence["night_min_lph"] == [14.0] * 5
        assert "minimum night flow 14.0 L/h" in leak.evidence["summary"]

    def test_a_repaired_leak_ends_on_the_first_day_without_it(self):
        volumes = household(42)
        volumes[30 * 24 : 36 * 24] += 80
        [leak] = _detect_leak(volumes)
        assert leak.severity is Severity.CRITICAL
        assert leak.started_at == _utc(START + np.timedelta64(30, "D"))
        assert leak.ended_at == _utc(START + np.timedelta64(36, "D"))

    def test_an_ordinary_household_has_no_leak(self):
        assert _detect_leak(household(42, seed=3)) == []

    def test_a_vacant_dwelling_with_zero_use_has_no_leak(self):
        assert _detect_leak(np.zeros(42 * 24)) == []

    def test_a_holiday_of_zero_use_is_not_a_leak(self):
        volumes = household(42)
        volumes[33 * 24 : 40 * 24] = 0
        assert _detect_leak(volumes) == []

    def test_two_nights_are_not_enough(self):
        volumes = household(42)
        volumes[-2 * 24 :] += 14
        assert _detect_leak(volumes) == []

    def test_a_meter_whose_night_flow_is_always_there_is_judged_against_its_own_baseline(self):
        volumes = household(42) + 20  # a communal cistern that always trickles
        assert _detect_leak(volumes) == []
        volumes[-4 * 24 :] += 30
        [leak] = _detect_leak(volumes)
        assert leak.evidence["baseline_lph"] == 20
        assert leak.evidence["night_min_lph"] == [50.0] * 4

    def test_a_leak_older_than_the_history_is_still_judged_by_the_baseline_it_opened_with(self):
        volumes = household(42) + 14  # leaking for six weeks: the history is all leak
        assert _detect_leak(volumes) == []
        history, recent = split(volumes, HISTORY)
        [leak] = LeakDetector(known_baseline_lph=0.0).fit(history).detect(recent)
        assert leak.evidence["baseline_lph"] == 0

    def test_missing_hours_never_read_as_a_leak(self):
        volumes = household(42)
        volumes[-5 * 24 :] = np.nan
        assert _detect_leak(volumes) == []


class TestBurstDetector:
    def _detect(self, volumes):
        history, recent = split(volumes, HISTORY)
        return BurstDetector().fit(history).detect(recent)

    def test_one_shower_is_not_a_burst(self):
        volumes = household(42)
        volumes[-10] = 180  # a long shower plus a washing machine in the same hour
        assert self._detect(volumes) == []

    def test_sustained_high_flow_is_a_burst_that_ends(self):
        volumes = household(42)
        burst_start = 40 * 24 + 2
        volumes[burst_start : burst_start + 3] = 1500
        [burst] = self._detect(volumes)
        assert burst.kind is IncidentKind.BURST
        assert burst.severity is Severity.CRITICAL
        assert burst.started_at == _utc(START + np.timedelta64(burst_start, "h"))
        assert burst.ended_at == _utc(START + np.timedelta64(burst_start + 3, "h"))
        assert burst.evidence["volume_l"] == 4500
        assert burst.evidence["hours"] == 3

    def test_a_burst_still_running_at_the_last_hour_is_ongoing(self):
        volumes = household(42)
        volumes[-4:] = 600
        [burst] = self._detect(volumes)
        assert burst.ended_at is None
        assert burst.severity is Severity.WARNING

    def test_the_threshold_follows_a_busy_meters_usual_peak(self):
        volumes = household(42) * 20  # a restaurant: 1000+ L hours are its normal
        history, _ = split(volumes, HISTORY)
        detector = BurstDetector().fit(history)
        assert detector.threshold_lph_ == pytest.approx(2 * detector.usual_peak_lph_)
        assert self._detect(volumes) == []


def _readings(index, flow=None, alarms=None):
    n = len(index)
    return ReadingSeries(
        time=(START + np.arange(n).astype("timedelta64[h]")).astype("datetime64[s]"),
        index_l=np.array(index, dtype=np.int64),
        flow_lph=np.array(flow if flow is not None else [np.nan] * n, dtype=float),
        alarms=np.array(alarms if alarms is not None else [0] * n, dtype=np.int64),
    )


class TestBackflowDetector:
    def _detect(self, readings):
        return BackflowDetector().fit(readings).detect(readings)

    def test_the_register_going_back_is_backflow(self):
        [found] = self._detect(_readings([100, 110, 104, 90, 95, 120]))
        assert found.kind is IncidentKind.BACKFLOW
        assert found.evidence["reverse_l"] == 20
        assert found.started_at == _utc(START + np.timedelta64(2, "h"))
        assert found.ended_at == _utc(START + np.timedelta64(4, "h"))

    def test_negative_flow_or_the_device_alarm_is_backflow(self):
        readings = _readings([100] * 4, flow=[0, -30.0, 0, 0], alarms=[0, 0, Alarm.BACKFLOW, 0])
        [found] = self._detect(readings)
        assert found.evidence["lowest_flow_lph"] == -30
        assert found.evidence["device_alarm"] is True
        assert found.ended_at == _utc(START + np.timedelta64(3, "h"))

    def test_forward_flow_and_a_register_wrap_are_not_backflow(self):
        assert self._detect(_readings([999_999_990, 999_999_999, 5, 20])) == []


class TestDeviceAlarmDetector:
    def test_a_tamper_alarm_is_critical_and_ongoing_while_reported(self):
        tamper = Alarm.TAMPER | Alarm.LOW_BATTERY
        readings = _readings([1, 2, 3, 4], alarms=[0, tamper, Alarm.TAMPER, Alarm.TAMPER])
        [found] = DeviceAlarmDetector(alarm=Alarm.TAMPER).fit(readings).detect(readings)
        assert (found.kind, found.severity) == (IncidentKind.TAMPER, Severity.CRITICAL)
        assert found.ended_at is None
        assert found.evidence["readings"] == 3

    def test_each_detector_follows_its_own_bit(self):
        readings = _readings([1, 2, 3], alarms=[0, Alarm.LOW_BATTERY, 0])
        assert DeviceAlarmDetector(alarm=Alarm.DRY).fit(readings).detect(readings) == []
        [low] = DeviceAlarmDetector(alarm=Alarm.LOW_BATTERY).fit(readings).detect(readings)
        assert (low.kind, low.severity) == (IncidentKind.LOW_BATTERY, Severity.INFO)
        assert low.ended_at == _utc(START + np.timedelta64(2, "h"))


class TestStuckMeterDetector:
    def _detect(self, volumes, *, occupied=True):
        history, recent = split(volumes, HISTORY)
        return StuckMeterDetector().fit(history).detect(recent, occupied=occupied)

    def test_an_index_frozen_for_twelve_days_in_an_occupied_dwelling_is_stuck(self):
        volumes = household(42)
        volumes[-12 * 24 :] = 0
        [stuck] = self._detect(volumes)
        assert stuck.kind is IncidentKind.STUCK
        assert stuck.evidence["frozen_days"] == 12
        assert stuck.evidence["usual_daily_l"] > 200
        assert stuck.ended_at is None

    def test_a_register_frozen_for_weeks_keeps_the_usual_day_it_opened_with(self):
        frozen = np.zeros(42 * 24)
        history, recent = split(frozen, HISTORY)
        assert StuckMeterDetector().fit(history).detect(recent, occupied=True) == []
        detector = StuckMeterDetector(known_usual_daily_l=320.0).fit(history)
        [stuck] = detector.detect(recent, occupied=True)
        assert stuck.evidence["usual_daily_l"] == 320

    def test_a_vacant_dwelling_is_not_stuck(self):
        volumes = household(42)
        volumes[-12 * 24 :] = 0
        assert self._detect(volumes, occupied=False) == []

    def test_a_ten_day_holiday_is_not_stuck(self):
        volumes = household(42)
        volumes[-10 * 24 :] = 0
        assert self._detect(volumes) == []

    def test_a_meter_that_never_consumed_is_not_stuck(self):
        assert self._detect(np.zeros(42 * 24)) == []


class TestSilentMeterDetector:
    def test_meters_silent_beyond_their_allowance_are_flagged(self):
        now = datetime(2026, 11, 24, 12, tzinfo=UTC)
        silences = (timedelta(hours=2), timedelta(hours=7), timedelta(days=4))
        last = np.array([int((now - s).timestamp()) for s in silences]).astype("datetime64[s]")
        interval = np.array([3600, 3600, 86400], dtype=np.int64)
        found = SilentMeterDetector().fit(interval).detect(last, interval, now=now)
        assert [position for position, _ in found] == [1, 2]
        assert found[0][1].severity is Severity.WARNING
        assert found[0][1].evidence["allowed_s"] == 6 * 3600
        assert found[1][1].evidence["allowed_s"] == 3 * 86400
        assert found[1][1].severity is Severity.CRITICAL
        assert found[0][1].started_at == now - timedelta(hours=6)


class TestAbnormalConsumptionDetector:
    @pytest.fixture(scope="class")
    def fitted(self):
        volumes, _ = daily_fleet(200, 42, seed=5)
        rows = [consumption_features(v, 3.0, float(np.median(v))) for v in volumes]
        return AbnormalConsumptionDetector().fit(np.vstack(rows))

    def _detect(self, detector, daily, usual):
        days = np.datetime64("2026-11-10") + np.arange(len(daily))
        features = consumption_features(daily, 3.0, usual)
        return detector.detect(days, daily, features, usual_l=usual)

    def test_days_far_above_the_own_history_and_the_peers_are_abnormal(self, fitted):
        daily = np.array([400, 380, 2600, 2900, 420.0])
        [found] = self._detect(fitted, daily, usual=400)
        assert found.kind is IncidentKind.ABNORMAL
        assert found.evidence["days"] == 2
        assert found.evidence["daily_l"] == [2600, 2900]
        assert found.started_at == datetime(2026, 11, 12, tzinfo=UTC)
        assert found.ended_at == datetime(2026, 11, 14, tzinfo=UTC)

    def test_one_heavy_day_is_not_abnormal(self, fitted):
        daily = np.array([400, 380, 2600, 420, 410.0])
        assert self._detect(fitted, daily, usual=400) == []

    def test_holiday_zeros_and_ordinary_days_are_not_abnormal(self, fitted):
        daily = np.array([0, 0, 0, 410, 450, 380.0])
        assert self._detect(fitted, daily, usual=400) == []


ESTIMATORS = [
    LeakDetector(min_nights=4),
    BurstDetector(min_hours=3),
    BackflowDetector(critical_l=50),
    DeviceAlarmDetector(alarm=Alarm.DRY),
    StuckMeterDetector(min_frozen_days=5),
    SilentMeterDetector(missed_intervals=2),
    AbnormalConsumptionDetector(n_estimators=20),
]


class TestEstimatorContract:
    @pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
    def test_clone_keeps_hyperparameters_and_init_stores_only_them(self, estimator):
        copy = clone(estimator)
        assert copy.get_params() == estimator.get_params()
        assert vars(copy) == copy.get_params()

    def test_fit_returns_self_and_learns_only_underscored_attributes(self):
        volumes = household(42)
        history, _ = split(volumes, HISTORY)
        readings = _readings([1, 2, 3])
        cases: list[tuple[Any, Any]] = [
            (LeakDetector(), history),
            (BurstDetector(), history),
            (StuckMeterDetector(), history),
            (BackflowDetector(), readings),
            (DeviceAlarmDetector(), readings),
            (SilentMeterDetector(), np.array([3600])),
            (
                AbnormalConsumptionDetector(n_estimators=10),
                np.random.default_rng(0).random((50, 2)),
            ),
        ]
        for estimator, data in cases:
            params = set(estimator.get_params())
            assert estimator.fit(data) is estimator
            learned = set(vars(estimator)) - params
            assert learned
            assert all(name.endswith("_") for name in learned), learned
