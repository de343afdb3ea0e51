import random
import threading
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from analytics.rollups.service import refresh_pending

pytestmark = pytest.mark.services

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def hourly_by_start(fleet, meter_id):
    return {row[0]: row for row in fleet.hourly(meter_id)}


def assert_hours_chain(rows):
    """Consecutive hours, each starting at the index the previous one ended at."""
    for before, after in zip(rows, rows[1:], strict=False):
        assert after[0] - before[0] == HOUR
        assert after[2] == before[3]


class TestVolumesFromIndexDifferences:
    def test_hours_sum_exactly_to_the_index_difference(self, fleet):
        rng = random.Random(7)
        meter = fleet.meter(installed_at=T0, initial_index_l=5_000)
        time, index, readings = T0, 5_000, []
        for _ in range(120):
            time += timedelta(seconds=rng.randint(300, 7_200))
            index += rng.randint(0, 400)
            readings.append((time, index))
        fleet.readings(meter, readings)

        fleet.refresh()

        rows = fleet.hourly(meter)
        assert sum(row[1] for row in rows) == index - 5_000
        assert rows[0][2] == 5_000
        assert rows[-1][3] == index
        assert all(row[1] >= 0 for row in rows)
        assert_hours_chain(rows)
        assert sum(row[4] for row in rows) == len(readings)

    def test_days_are_the_sums_of_their_local_hours(self, fleet):
        tz = ZoneInfo("Pacific/Port_Moresby")
        meter = fleet.meter(installed_at=T0, country="PG")
        fleet.readings(meter, [(T0 + i * timedelta(minutes=37), 3 * i * i) for i in range(1, 200)])

        fleet.refresh()

        by_day: dict[date, int] = defaultdict(int)
        for row in fleet.hourly(meter):
            by_day[row[0].astimezone(tz).date()] += row[1]
        days = fleet.daily(meter)
        assert {row[0]: row[1] for row in days} == dict(by_day)
        assert sum(row[1] for row in days) == 3 * 199 * 199

    def test_boundary_index_is_interpolated_and_rounded_once(self, fleet):
        meter = fleet.meter(installed_at=T0, initial_index_l=1_000)
        fleet.readings(meter, [(T0, 1_000), (T0 + timedelta(minutes=30), 1_000)])
        fleet.readings(meter, [(T0 + timedelta(hours=3, minutes=30), 1_010)])

        fleet.refresh()

        rows = fleet.hourly(meter)
        # 10 litres over 3 hours from 00:30: boundaries at 1/6, 3/6 and 5/6 of the way.
        expected_boundaries = [1_000 + round(10 * k / 6) for k in (1, 3, 5)]
        assert [row[3] for row in rows[:3]] == expected_boundaries
        assert [row[1] for row in rows] == [2, 3, 3, 2]
        assert [(row[5], row[6]) for row in rows] == [
            (False, True),
            (True, True),
            (True, True),
            (True, False),
        ]

    def test_a_reading_on_the_hour_is_not_interpolated(self, fleet):
        meter = fleet.meter(installed_at=T0)
        fleet.readings(meter, [(T0 + i * HOUR, 50 * i) for i in range(1, 6)])

        fleet.refresh()

        rows = fleet.hourly(meter)
        assert [row[1] for row in rows] == [50, 50, 50, 50, 50, 0]
        assert not any(row[5] or row[6] for row in rows)

    def test_estimated_readings_count_and_flag_their_hours(self, fleet):
        meter = fleet.meter(installed_at=T0)
        fleet.readings(
            meter,
            [
                (T0 + HOUR, 100),
                (T0 + 2 * HOUR, 200, "estimated"),
                (T0 + 3 * HOUR, 300),
                (T0 + 3 * HOUR, 999, "estimated"),
                (T0 + 4 * HOUR, 400),
            ],
        )

        fleet.refresh()

        rows = fleet.hourly(meter)
        assert [row[1] for row in rows] == [100, 100, 100, 100, 0]
        assert [row[7] for row in rows] == [False, True, True, False, False]

    def test_the_installation_index_is_the_first_starting_point(self, fleet):
        meter = fleet.meter(installed_at=T0 + timedelta(minutes=20), initial_index_l=100)
        fleet.readings(meter, [(T0 + timedelta(hours=1, minutes=20), 250)])

        fleet.refresh()

        rows = fleet.hourly(meter)
        assert [(row[0], row[1], row[2], row[3]) for row in rows] == [
            (T0, 100, 100, 200),
            (T0 + HOUR, 50, 200, 250),
        ]


class TestLocalTimeZones:
    def days(self, fleet, meter):
        return {row[0]: row for row in fleet.daily(meter)}

    def hourly_readings(self, fleet, meter, hours=72):
        fleet.readings(meter, [(T0 + i * HOUR, 10 * i) for i in range(1, hours + 1)])

    @pytest.mark.parametrize(
        ("country", "zone_timezone", "day_starts_utc"),
        [
            ("PG", None, datetime(2026, 3, 2, 14, tzinfo=UTC)),  # Port Moresby, UTC+10
            ("CM", None, datetime(2026, 3, 2, 23, tzinfo=UTC)),  # Douala, UTC+1
            ("PG", "Pacific/Bougainville", datetime(2026, 3, 2, 13, tzinfo=UTC)),  # UTC+11
        ],
    )
    def test_days_start_at_local_midnight(self, fleet, country, zone_timezone, day_starts_utc):
        meter = fleet.meter(installed_at=T0, country=country, zone_timezone=zone_timezone)
        self.hourly_readings(fleet, meter)

        fleet.refresh()

        local_day = (day_starts_utc + HOUR).astimezone(
            ZoneInfo(
                zone_timezone or {"PG": "Pacific/Port_Moresby", "CM": "Africa/Douala"}[country]
            )
        )
        day = self.days(fleet, meter)[local_day.date()]
        start_hours = (day_starts_utc - T0) // HOUR
        assert (day[1], day[2], day[3]) == (240, 10 * start_hours, 10 * (start_hours + 24))

    def test_half_hour_offsets_cut_hours_at_half_past_utc(self, fleet):
        meter = fleet.meter(installed_at=T0, country="PG", zone_timezone="Asia/Kolkata")
        self.hourly_readings(fleet, meter)

        fleet.refresh()

        starts = {row[0].minute for row in fleet.hourly(meter)[1:]}
        assert starts == {30}
        day = self.days(fleet, meter)[date(2026, 3, 3)]  # starts 2026-03-02T18:30Z
        assert (day[1], day[2], day[3]) == (240, 185, 425)

    def test_a_meter_without_dwelling_uses_the_default_country(self, fleet):
        meter = fleet.meter(installed_at=T0, country=None)
        self.hourly_readings(fleet, meter)

        fleet.refresh(default_country="CM")

        day = self.days(fleet, meter)[date(2026, 3, 3)]
        assert day[2] == 10 * 23  # 2026-03-03 starts at 23:00 UTC on the 2nd in Douala

    @pytest.mark.parametrize(("day", "hours"), [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25)])
    def test_paris_dst_days_have_23_and_25_hours(self, fleet, day, hours):
        paris = ZoneInfo("Europe/Paris")
        start = (
            datetime(day.year, day.month, day.day, tzinfo=paris) - timedelta(days=1)
        ).astimezone(UTC)
        meter = fleet.meter(installed_at=start, country="FR")
        quarter = timedelta(minutes=15)
        fleet.readings(meter, [(start + i * quarter, 7 * i) for i in range(1, 4 * 24 * 3)])

        fleet.refresh()

        local_hours = [row for row in fleet.hourly(meter) if row[0].astimezone(paris).date() == day]
        assert len(local_hours) == hours
        assert len({row[0] for row in local_hours}) == hours
        daily = self.days(fleet, meter)[day]
        assert daily[1] == sum(row[1] for row in local_hours) == 7 * 4 * hours


class TestLateReadings:
    def test_a_late_reading_reopens_only_the_hours_it_touches(self, fleet):
        meter = fleet.meter(installed_at=T0)
        on_time = [(T0 + i * HOUR + timedelta(minutes=30), 60 * i) for i in range(48)]
        fleet.readings(meter, on_time)
        fleet.refresh()
        before = hourly_by_start(fleet, meter)
        days_before = {row[0]: row for row in fleet.daily(meter)}

        fleet.readings(meter, [(T0 + 11 * HOUR + timedelta(minutes=45), 60 * 11 + 50)])
        result = fleet.refresh()

        after = hourly_by_start(fleet, meter)
        moved = sorted(h for h in after if after[h][9] != before[h][9])
        # 11:00-12:00 gains the reading, and its end boundary (the next hour's start) moves.
        assert moved == [T0 + 11 * HOUR, T0 + 12 * HOUR]
        assert after[T0 + 11 * HOUR][4] == 2
        assert result.hours_written == 2
        assert sum(row[1] for row in after.values()) == 60 * 47
        days_after = {row[0]: row for row in fleet.daily(meter)}
        assert days_after[T0.date()][9] != days_before[T0.date()][9]
        assert (
            days_after[T0.date() + timedelta(days=1)][9]
            == days_before[T0.date() + timedelta(days=1)][9]
        )

    def test_a_reading_between_hours_moves_the_boundaries_around_it(self, fleet):
        meter = fleet.meter(installed_at=T0)
        fleet.readings(meter, [(T0 + 2 * HOUR, 100), (T0 + 6 * HOUR, 500), (T0 + 9 * HOUR, 800)])
        fleet.refresh()
        before = hourly_by_start(fleet, meter)

        fleet.readings(meter, [(T0 + 3 * HOUR + timedelta(minutes=30), 110)])
        fleet.refresh()

        after = hourly_by_start(fleet, meter)
        moved = sorted((h - T0) // HOUR for h in after if after[h][9] != before[h][9])
        assert moved == [2, 3, 4, 5]
        # 03:00 lies between 02:00 (100) and 03:30 (110); 04:00 and 05:00 between 03:30 and 06:00.
        expected_ends = [
            100 + round(10 / 1.5),
            110 + round(390 * 0.5 / 2.5),
            110 + round(390 * 1.5 / 2.5),
            500,
        ]
        assert [after[T0 + i * HOUR][3] for i in range(2, 6)] == expected_ends

    def test_out_of_order_batches_give_the_in_order_result(self, fleet):
        rng = random.Random(3)
        readings = [(T0 + i * timedelta(minutes=20), 13 * i) for i in range(1, 150)]
        in_order = fleet.meter(installed_at=T0)
        shuffled = fleet.meter(installed_at=T0)
        fleet.readings(in_order, readings)
        fleet.refresh()
        mixed = readings[:]
        rng.shuffle(mixed)
        for start in range(0, len(mixed), 25):
            fleet.readings(shuffled, mixed[start : start + 25])
            fleet.refresh()

        def strip(rows):
            return [row[:9] for row in rows]

        assert strip(fleet.hourly(shuffled)) == strip(fleet.hourly(in_order))
        assert strip(fleet.daily(shuffled)) == strip(fleet.daily(in_order))

    def test_a_refresh_with_nothing_new_rewrites_nothing(self, fleet, db):
        meter = fleet.meter(installed_at=T0)
        fleet.readings(meter, [(T0 + i * HOUR, 10 * i) for i in range(1, 30)])
        fleet.refresh()
        db.execute("INSERT INTO rollup_pending (meter_id, since) VALUES (%s, %s)", [meter, T0])

        result = fleet.refresh()

        assert (result.meters, result.hours_written, result.days_written) == (1, 0, 0)


class TestRegisterRollover:
    def test_a_wrap_counts_the_litres_through_zero(self, fleet):
        meter = fleet.meter(installed_at=T0, register_digits=4, initial_index_l=9_900)
        fleet.readings(
            meter,
            [
                (T0 + HOUR + timedelta(minutes=30), 9_990),
                (T0 + 2 * HOUR + timedelta(minutes=30), 10),
                (T0 + 3 * HOUR, 80),
            ],
        )

        fleet.refresh()

        rows = fleet.hourly(meter)
        assert sum(row[1] for row in rows) == 10_080 - 9_900
        assert all(0 <= row[1] < 100 for row in rows)
        assert rows[2][2] == 0  # 02:00 is halfway from 9990 to 10(+10000): the register shows 0
        assert not any(row[8] for row in rows)
        assert fleet.daily(meter)[0][1:4] == (180, 9_900, 80)

    @pytest.mark.parametrize("seed", [1, 2, 3])
    def test_random_wrapping_series_in_random_batches_keep_every_litre(self, fleet, seed):
        rng = random.Random(seed)
        meter = fleet.meter(installed_at=T0, register_digits=4, initial_index_l=9_000)
        time, consumed, readings = T0, 0, []
        for _ in range(200):
            time += timedelta(seconds=rng.randint(60, 9_000))
            consumed += rng.choice([0, 0, rng.randint(1, 4_000)])
            readings.append((time, (9_000 + consumed) % 10_000))
        rng.shuffle(readings)
        while readings:
            size = rng.randint(1, 40)
            batch, readings = readings[:size], readings[size:]
            fleet.readings(meter, batch)
            if rng.random() < 0.5:
                fleet.refresh()
        fleet.refresh()

        rows = fleet.hourly(meter)
        assert sum(row[1] for row in rows) == consumed
        assert sum(row[1] for row in fleet.daily(meter)) == consumed
        assert not any(row[8] for row in rows)
        assert_hours_chain(rows)

    def test_a_decrease_that_is_not_a_wrap_counts_zero_and_is_flagged(self, fleet):
        meter = fleet.meter(installed_at=T0, initial_index_l=1_000)
        fleet.readings(meter, [(T0 + HOUR, 1_000), (T0 + 2 * HOUR, 990), (T0 + 3 * HOUR, 1_005)])

        fleet.refresh()

        rows = fleet.hourly(meter)
        assert [(row[1], row[8]) for row in rows] == [
            (0, False),
            (0, True),
            (15, False),
            (0, False),
        ]
        assert fleet.daily(meter)[0][8] is True


class TestMeterReplacement:
    def test_each_meter_has_its_own_rollups_around_a_mid_day_replacement(self, fleet):
        tz = ZoneInfo("Africa/Douala")
        day_start = datetime(2026, 3, 3, tzinfo=tz)
        swap = day_start + timedelta(hours=12)
        dwelling = fleet.dwelling(country="CM")
        old = fleet.meter(
            installed_at=day_start - timedelta(days=30),
            initial_index_l=40_000,
            dwelling_id=dwelling,
            removed_at=swap,
        )
        new = fleet.meter(installed_at=swap, initial_index_l=500, dwelling_id=dwelling)
        fleet.readings(old, [(day_start + i * HOUR, 50_000 + 20 * i) for i in range(13)])
        fleet.readings(old, [(swap + timedelta(minutes=30), 99_999)])  # after removal: ignored
        fleet.readings(new, [(swap + i * HOUR, 500 + 30 * i) for i in range(1, 12)])

        fleet.refresh()

        old_day = {row[0]: row for row in fleet.daily(old)}[day_start.date()]
        new_day = {row[0]: row for row in fleet.daily(new)}[day_start.date()]
        assert old_day[1:4] == (240, 50_000, 50_240)
        assert new_day[1:4] == (330, 500, 830)
        assert max(row[0] for row in fleet.hourly(old)) == swap
        assert min(row[0] for row in fleet.hourly(new)) == swap

    def test_a_removal_recorded_later_drops_the_hours_after_it(self, fleet, db):
        meter = fleet.meter(installed_at=T0)
        fleet.readings(meter, [(T0 + i * HOUR, 10 * i) for i in range(1, 21)])
        fleet.refresh()
        db.execute("UPDATE meter SET removed_at = %s WHERE id = %s", [T0 + 12 * HOUR, meter])
        db.execute(
            "INSERT INTO rollup_pending (meter_id, since) VALUES (%s, %s)",
            [meter, T0 + 12 * HOUR],
        )

        result = fleet.refresh()

        assert max(row[0] for row in fleet.hourly(meter)) == T0 + 12 * HOUR
        assert result.hours_removed == 8
        assert [row[1] for row in fleet.daily(meter)] == [120]


class TestConcurrentRefreshers:
    def test_parallel_refreshers_share_the_queue_without_double_counting(self, fleet, database_url):
        meters = [fleet.meter(installed_at=T0) for _ in range(120)]
        for n, meter in enumerate(meters):
            fleet.readings(
                meter, [(T0 + i * timedelta(minutes=45), (n + 1) * i) for i in range(1, 40)]
            )
        claimed: list[int] = []
        barrier = threading.Barrier(4)
        errors: list[BaseException] = []

        def refresher() -> None:
            try:
                with psycopg.connect(database_url) as conn:
                    barrier.wait()
                    while True:
                        with conn.transaction():
                            result = refresh_pending(conn, limit=7, default_country="PG")
                        if result.meters == 0:
                            return
                        claimed.append(result.meters)
            except BaseException as exc:  # surfaced by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=refresher) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert errors == []
        assert sum(claimed) == len(meters)
        for n, meter in enumerate(meters):
            assert sum(row[1] for row in fleet.hourly(meter)) == (n + 1) * 39
            assert sum(row[1] for row in fleet.daily(meter)) == (n + 1) * 39
        assert fleet.db.execute("SELECT count(*) FROM rollup_pending").fetchone() == (0,)

    def test_refusing_to_run_outside_a_transaction(self, db):
        with pytest.raises(RuntimeError, match="needs a transaction"):
            refresh_pending(db, limit=10, default_country="PG")

    def test_a_refresher_skips_meters_another_one_holds(self, fleet, database_url):
        # A first refresh creates the hypertable chunk: creating one makes concurrent writers wait.
        fleet.readings(fleet.meter(installed_at=T0), [(T0 + HOUR, 10)])
        fleet.refresh()
        meters = [fleet.meter(installed_at=T0) for _ in range(3)]
        for meter in meters:
            fleet.readings(meter, [(T0 + HOUR, 10)])
        with psycopg.connect(database_url) as holder, psycopg.connect(database_url) as other:
            first = refresh_pending(holder, limit=1, default_country="PG")  # transaction open
            other.execute("SET lock_timeout = '2s'")
            with other.transaction():
                second = refresh_pending(other, limit=10, default_country="PG")
            holder.rollback()
        assert (first.meters, second.meters) == (1, 2)
        assert fleet.db.execute("SELECT count(*) FROM rollup_pending").fetchone() == (1,)
