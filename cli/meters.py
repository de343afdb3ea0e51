"""``waterbill meters``: the operator's meter commands (import from CSV, broker logins)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from core.config import Settings, get_settings

if TYPE_CHECKING:
    from registry.credentials import MeterCredentials
    from registry.registration import MeterRegistration, RegistrationResult

app = typer.Typer(no_args_is_help=True, help="Register and manage meters.")
console = Console()
error_console = Console(stderr=True)


async def _register(settings: Settings, meters: list[MeterRegistration]) -> RegistrationResult:
    from sqlalchemy.ext.asyncio import AsyncSession

    from core.db import make_async_engine
    from registry.service import register_meters

    engine = make_async_engine(settings)
    try:
        async with AsyncSession(engine) as session, session.begin():
            return await register_meters(session, meters=meters)
    finally:
        await engine.dispose()


@app.command("import")
def import_meters(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV with a header line.")
    ],
) -> None:
    """Register the meters of a CSV file (serial, kind, installed_at, ...); known serials stay."""
    # Imported here so that other `waterbill` commands start without SQLAlchemy.
    from sqlalchemy.exc import IntegrityError

    from registry.exceptions import InvalidMeterFile
    from registry.registration import parse_meter_csv

    try:
        meters = parse_meter_csv(file.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        error_console.print(f"{file}: not a UTF-8 text file")
        raise typer.Exit(1) from None
    except InvalidMeterFile as exc:
        for problem in exc.message.split("; "):
            error_console.print(f"{file}: {problem}")
        raise typer.Exit(1) from None
    try:
        result = asyncio.run(_register(get_settings(), meters))
    except IntegrityError as exc:
        error_console.print(f"{file}: rejected by the database: {exc.orig}")
        raise typer.Exit(1) from None
    console.print(f"{result.created} meters created, {result.existing} already registered")


async def _issue(settings: Settings, serials: list[str]) -> list[MeterCredentials]:
    from sqlalchemy.ext.asyncio import AsyncSession

    from core.db import make_async_engine
    from registry.credentials import issue_credentials_by_serial

    engine = make_async_engine(settings)
    try:
        async with AsyncSession(engine) as session:
            return await issue_credentials_by_serial(session, serials=serials, mqtt=settings.mqtt)
    finally:
        await engine.dispose()


@app.command("credentials")
def credentials(
    serials: Annotated[list[str], typer.Argument(help="Serials of registered meters.")],
) -> None:
    """Issue or rotate meters' broker logins and print them, once: `serial password topic`."""
    from core.exceptions import AppError

    try:
        issued = asyncio.run(_issue(get_settings(), serials))
    except AppError as exc:
        error_console.print(exc.message)
        raise typer.Exit(1) from None
    for login in issued:
        console.print(f"{login.serial} {login.password} {login.topic}", highlight=False)
