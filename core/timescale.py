"""What the connected TimescaleDB can do: the Apache build lacks the Timescale-licensed features."""

from __future__ import annotations

from sqlalchemy import Connection, text


def license_of(connection: Connection) -> str | None:
    """``apache`` or ``timescale``; None when the extension is not loaded."""
    value = connection.execute(text("SELECT current_setting('timescaledb.license', true)")).scalar()
    return None if value is None else str(value)


def tsl_available(connection: Connection) -> bool:
    """True when compression, continuous aggregates and job policies may be used."""
    return license_of(connection) == "timescale"
