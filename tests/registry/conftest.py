"""Helpers shared by the registry tests."""

from datetime import UTC, datetime

from registry.models import MeterKind
from registry.registration import MeterRegistration

INSTALLED = datetime(2026, 1, 1, tzinfo=UTC)


def registration(serial: str, **overrides) -> MeterRegistration:
    fields = {"kind": MeterKind.IOT, "installed_at": INSTALLED, **overrides}
    return MeterRegistration(serial=serial, **fields)
