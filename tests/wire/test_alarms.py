"""Alarm names on the wire and bits in storage."""

from __future__ import annotations

from wire.alarms import Alarm, AlarmName, alarm_bits


class TestAlarmBits:
    def test_every_name_has_its_own_bit(self):
        assert sorted(alarm_bits([name]) for name in AlarmName) == [1, 2, 4, 8, 16, 32]

    def test_a_repeated_name_counts_once(self):
        assert alarm_bits(["leak", "leak", "tamper"]) == Alarm.LEAK | Alarm.TAMPER

    def test_no_names_no_bits(self):
        assert alarm_bits([]) == 0


class TestAlarmNames:
    def test_round_trip_with_the_bits(self):
        flags = Alarm.BURST | Alarm.LOW_BATTERY
        assert Alarm(alarm_bits(flags.names())) == flags
        assert flags.names() == [AlarmName.BURST, AlarmName.LOW_BATTERY]
