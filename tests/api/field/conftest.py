"""A technician assigned to one building of two, signed in; plain SQL to arrange the rest."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest

from accounts.models import Role, User
from accounts.passwords import hash_password
from accounts.tokens import TokenType, encode_token
from core.config import Settings
from core.countries import Language

_numbers = itertools.count(1)
# Smallest valid JPEG-looking payload: the server checks magic numbers, not pixels.
JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF\x00" + bytes(range(256)) + b"\xff\xd9"


def returning_id(db: psycopg.Connection, query: str, params: list[Any]) -> int:
    row = db.execute(query, params).fetchone()
    assert row is not None
    return int(row[0])


@dataclass
class Field:
    db: psycopg.Connection
    technician_id: int
    headers: dict[str, str]
    building_id: int
    other_building_id: int

    def meter(
        self, *, kind: str = "mechanical", building_id: int | None = None, **extra: Any
    ) -> int:
        n = next(_numbers)
        dwelling = returning_id(
            self.db,
            "INSERT INTO dwelling (building_id, reference, dwelling_type)"
            " VALUES (%s, %s, 'apartment') RETURNING id",
            [building_id or self.building_id, f"A{n}"],
        )
        columns = {"installed_at": datetime(2026, 1, 1, tzinfo=UTC), **extra}
        names = ", ".join(columns)
        marks = ", ".join(["%s"] * len(columns))
        return returning_id(
            self.db,
            f"INSERT INTO meter (serial, kind, dwelling_id, {names})"
            f" VALUES (%s, %s, %s, {marks}) RETURNING id",
            [f"F-{n:05d}", kind, dwelling, *columns.values()],
        )

    def reading(self, meter_id: int, time: datetime, index_l: int, source: str = "iot") -> None:
        self.db.execute(
            "INSERT INTO reading (meter_id, time, source, index_l) VALUES (%s, %s, %s, %s)",
            [meter_id, time, source, index_l],
        )

    def stored(self, meter_id: int, source: str = "manual") -> list[tuple[Any, ...]]:
        return self.db.execute(
            "SELECT time, index_l FROM reading WHERE meter_id = %s AND source = %s ORDER BY time",
            [meter_id, source],
        ).fetchall()


def token_headers(
    db: psycopg.Connection, settings: Settings, role: Role
) -> tuple[int, dict[str, str]]:
    n = next(_numbers)
    user = User(
        phone=f"+23765{n:07d}",
        first_name="Field",
        last_name=role.value,
        language=Language.EN,
        role=role,
        is_active=True,
        password_hash=hash_password("x" * 12),
        token_version=0,  # the column's default: the access token carries it
    )
    user.id = returning_id(
        db,
        "INSERT INTO app_user (phone, first_name, last_name, language, role, is_active,"
        " password_hash) VALUES (%s, %s, %s, 'en', %s, true, %s) RETURNING id",
        [user.phone, user.first_name, user.last_name, role.value, user.password_hash],
    )
    token = encode_token(user, settings=settings, token_type=TokenType.ACCESS).token
    return user.id, {"Authorization": f"Bearer {token}"}


@pytest.fixture
def field(db: psycopg.Connection, settings: Settings) -> Field:
    zone = returning_id(
        db,
        "INSERT INTO zone (country_code, code, name) VALUES ('CM', 'DLA', 'Douala') RETURNING id",
        [],
    )
    buildings = [
        returning_id(
            db, "INSERT INTO building (zone_id, name) VALUES (%s, %s) RETURNING id", [zone, name]
        )
        for name in ("Akwa", "Bonapriso")
    ]
    technician, headers = token_headers(db, settings, Role.TECHNICIAN)
    db.execute(
        "INSERT INTO technician_assignment (technician_id, building_id) VALUES (%s, %s)",
        [technician, buildings[0]],
    )
    return Field(db, technician, headers, buildings[0], buildings[1])


@pytest.fixture
def admin_headers(db: psycopg.Connection, settings: Settings) -> dict[str, str]:
    return token_headers(db, settings, Role.ADMIN)[1]


def reading_form(meter_id: int, time: datetime, index_l: int, note: str = "") -> dict[str, Any]:
    return {
        "meter_id": (None, str(meter_id)),
        "time": (None, time.isoformat()),
        "index_l": (None, str(index_l)),
        "note": (None, note),
    }


async def post_reading(
    client: httpx.AsyncClient,
    field: Field,
    *,
    key: str,
    meter_id: int,
    time: datetime,
    index_l: int,
    note: str = "",
    photo: bytes | None = None,
) -> httpx.Response:
    files = reading_form(meter_id, time, index_l, note)
    if photo is not None:
        files["photo"] = ("meter.jpg", photo, "image/jpeg")
    return await client.post(
        "/readings/manual", files=files, headers={**field.headers, "Idempotency-Key": key}
    )
