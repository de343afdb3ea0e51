"""A meter registration and its rules, and the operator's CSV file of them.

Pure data and checks, no database: the service registers what passes here.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from registry.exceptions import InvalidMeterFile
from registry.models import MeterKind, MeterUnit
from wire.topics import SERIAL_RE


@dataclass(frozen=True)
class MeterRegistration:
    serial: str
    kind: MeterKind
    installed_at: datetime
    unit: MeterUnit = MeterUnit.CUBIC_METRE
    register_digits: int = 9
    dwelling_id: int | None = None
    initial_index_l: int = 0
    reporting_interval_s: int = 3600

    def problems(self) -> list[str]:
        """What is wrong with this registration, in words an operator can act on."""
        found = []
        if not SERIAL_RE.match(self.serial):
            found.append(
                f"serial {self.serial!r} must be 3-64 letters, digits, '.', '_' or '-'"
                " and start with a letter or digit"
            )
        if not 4 <= self.register_digits <= 12:
            found.append(f"register_digits {self.register_digits} must be between 4 and 12")
        if not 0 <= self.initial_index_l < 10**self.register_digits:
            found.append(
                f"initial_index_l {self.initial_index_l} does not fit"
                f" a {self.register_digits}-digit register"
            )
        if self.reporting_interval_s <= 0:
            found.append("reporting_interval_s must be positive")
        if self.installed_at.tzinfo is None:
            found.append("installed_at must carry a time zone offset")
        return found


def to_json(meter: MeterRegistration) -> dict[str, Any]:
    """A registration as JSON (kept in ``meter_import`` until its job registers it)."""
    return {
        "serial": meter.serial,
        "kind": meter.kind.value,
        "installed_at": meter.installed_at.isoformat(),
        "unit": meter.unit.value,
        "register_digits": meter.register_digits,
        "dwelling_id": meter.dwelling_id,
        "initial_index_l": meter.initial_index_l,
        "reporting_interval_s": meter.reporting_interval_s,
    }


def from_json(data: dict[str, Any]) -> MeterRegistration:
    return MeterRegistration(
        **data
        | {
            "kind": MeterKind(data["kind"]),
            "unit": MeterUnit(data["unit"]),
            "installed_at": datetime.fromisoformat(data["installed_at"]),
        }
    )


@dataclass(frozen=True)
class RegistrationResult:
    created: int
    existing: int


METER_CSV_COLUMNS = (
    "serial",
    "kind",
    "installed_at",
    "unit",
    "register_digits",
    "dwelling_id",
    "initial_index_l",
    "reporting_interval_s",
)
REQUIRED_CSV_COLUMNS = {"serial", "kind"}


def parse_meter_csv(
    text: str, *, max_rows: int | None = None, now: datetime | None = None
) -> list[MeterRegistration]:
    """Read an operator's meter file; every bad line is reported with its number.

    Columns (header required): serial, kind, and optionally installed_at (RFC 3339, default now),
    unit, register_digits, dwelling_id, initial_index_l, reporting_interval_s.

    Raises:
        InvalidMeterFile: with one message per bad line, or when it has more than ``max_rows``
            lines (read no further than that; None: the operator's own file on the command line).
    """
    reader = csv.DictReader(io.StringIO(text))
    header = set(reader.fieldnames or [])
    missing = REQUIRED_CSV_COLUMNS - header
    unknown = header - set(METER_CSV_COLUMNS)
    if missing or unknown:
        raise InvalidMeterFile(
            "header: "
            + "; ".join(
                [f"missing column {c!r}" for c in sorted(missing)]
                + [f"unknown column {c!r}" for c in sorted(unknown)]
            )
        )
    now = now or datetime.now(UTC)
    meters: list[MeterRegistration] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    for line_no, row in enumerate(reader, start=2):
        if max_rows is not None and line_no - 1 > max_rows:
            raise InvalidMeterFile(
                f"the file has more than {max_rows} meter lines; split it into smaller files"
            )
        try:
            meter = _meter_from_row(row, now)
        except (ValueError, KeyError) as exc:
            errors.append(f"line {line_no}: {exc}")
            continue
        errors.extend(f"line {line_no}: {problem}" for problem in meter.problems())
        if meter.serial in seen:
            errors.append(
                f"line {line_no}: serial {meter.serial!r} repeats line {seen[meter.serial]}"
            )
        seen.setdefault(meter.serial, line_no)
        meters.append(meter)
    if errors:
        raise InvalidMeterFile("; ".join(errors))
    return meters


def _meter_from_row(row: dict[str, str | None], now: datetime) -> MeterRegistration:
    def field(name: str) -> str:
        return (row.get(name) or "").strip()

    def integer(name: str, default: int) -> int:
        value = field(name)
        if not value:
            return default
        if not value.lstrip("-").isdigit():
            raise ValueError(f"{name} {value!r} is not a whole number")
        return int(value)

    kind_text = field("kind").lower()
    try:
        kind = MeterKind(kind_text)
    except ValueError:
        choices = ", ".join(k.value for k in MeterKind)
        raise ValueError(f"kind {kind_text!r} is not one of {choices}") from None
    unit_text = field("unit").lower() or MeterUnit.CUBIC_METRE.value
    try:
        unit = MeterUnit(unit_text)
    except ValueError:
        raise ValueError(f"unit {unit_text!r} is not one of m3, l") from None
    installed_text = field("installed_at")
    try:
        installed_at = datetime.fromisoformat(installed_text) if installed_text else now
    except ValueError:
        raise ValueError(f"installed_at {installed_text!r} is not an RFC 3339 time") from None
    return MeterRegistration(
        serial=field("serial"),
        kind=kind,
        unit=unit,
        installed_at=installed_at,
        register_digits=integer("register_digits", 9),
        dwelling_id=integer("dwelling_id", 0) or None,
        initial_index_l=integer("initial_index_l", 0),
        reporting_interval_s=integer("reporting_interval_s", 3600),
    )
