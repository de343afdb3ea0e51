from datetime import UTC, datetime, timedelta

from analytics.anomalies.windows import Window, merge_findings, plan_windows, settle
from analytics.incidents.repository import FindingRow

AS_OF = datetime(2026, 11, 24, 2, tzinfo=UTC)
DAY = timedelta(days=1)
DETECT, HISTORY, STEP = 14 * DAY, 28 * DAY, 7 * DAY


def plan(gap: timedelta) -> list[Window]:
    return plan_windows(
        watermark=AS_OF - gap, as_of=AS_OF, detect=DETECT, history=HISTORY, max_step=STEP
    )


def finding(start: int, last: int, end: int | None, *, kind: str = "leak") -> FindingRow:
    def at(day: int) -> datetime:
        return AS_OF + day * DAY

    return FindingRow(
        meter_id=1,
        kind=kind,
        severity="warning",
        started_at=at(start),
        ended_at=None if end is None else at(end),
        last_seen_at=at(last),
        evidence={"last": last},
    )


class TestPlanWindows:
    def test_a_daily_scan_judges_one_window_of_the_detection_days_and_the_day(self):
        assert plan(DAY) == [Window(AS_OF - 43 * DAY, AS_OF - 15 * DAY, AS_OF)]

    def test_a_gap_of_three_days_widens_the_one_window_by_three_days(self):
        assert plan(3 * DAY) == [Window(AS_OF - 45 * DAY, AS_OF - 17 * DAY, AS_OF)]

    def test_a_backfill_slides_overlapping_windows_a_step_apart_up_to_as_of(self):
        windows = plan(90 * DAY)
        assert len(windows) == 13
        assert windows[-1].end == AS_OF
        assert [b.end - a.end for a, b in zip(windows, windows[1:], strict=False)] == [STEP] * 12
        assert all(w.end - w.start == DETECT + STEP for w in windows)
        # The first window reaches the 14 days before the watermark, as a daily scan's would.
        assert windows[0].end > AS_OF - 90 * DAY
        assert windows[0].start <= AS_OF - 90 * DAY - DETECT

    def test_no_gap_still_judges_the_last_window(self):
        assert len(plan(timedelta(0))) == 1


class TestMergeFindings:
    def test_one_episode_seen_by_two_windows_keeps_its_start_and_its_latest_state(self):
        older, newer = finding(-20, -10, None), finding(-12, -5, -4)
        [merged] = merge_findings([newer, older])
        assert (merged.started_at, merged.ended_at) == (older.started_at, newer.ended_at)
        assert merged.evidence == {"last": -5}

    def test_separate_episodes_and_kinds_stay_apart(self):
        found = merge_findings(
            [finding(-20, -18, -17), finding(-10, -9, -8), finding(-20, -18, -17, kind="burst")]
        )
        assert len(found) == 3

    def test_an_episode_going_on_at_the_end_of_an_earlier_window_ended_there(self):
        window = Window(AS_OF - 50 * DAY, AS_OF - 21 * DAY, AS_OF - 7 * DAY)
        [ended] = settle([finding(-10, -8, None)], window, as_of=AS_OF)
        assert ended.ended_at == AS_OF - 7 * DAY
        last = Window(AS_OF - 43 * DAY, AS_OF - 15 * DAY, AS_OF)
        [going_on] = settle([finding(-10, -1, None)], last, as_of=AS_OF)
        assert going_on.ended_at is None
