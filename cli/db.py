"""``waterbill db``: chores of the database owner (``WATERBILL_MIGRATION_DATABASE_URL``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from core.config import get_settings

app = typer.Typer(no_args_is_help=True, help="Database chores run as its owner.")

PASSWORD_ENV = "WATERBILL_RUNTIME_ROLE_PASSWORD"


def _password(password_file: Path | None) -> str:
    """From the file (one line; a trailing newline is not part of it), else the environment:
    never an option, which would show in the process list and the shell's history."""
    if password_file is not None:
        try:
            return password_file.read_text().rstrip("\r\n")
        except OSError as exc:
            raise typer.BadParameter(
                f"cannot read {password_file}: {exc.strerror}", param_hint="--password-file"
            ) from None
    password = os.environ.get(PASSWORD_ENV)
    if not password:
        raise typer.BadParameter(f"give --password-file or set {PASSWORD_ENV}")
    return password


@app.command("runtime-role")
def runtime_role(
    name: Annotated[
        str, typer.Option(help="Login role the API, workers and ingest connect as.")
    ] = "waterbill_runtime",
    password_file: Annotated[
        Path | None,
        typer.Option(help=f"File holding its password (default: ${PASSWORD_ENV})."),
    ] = None,
) -> None:
    """Create (or give a new password to) a login role in waterbill_app, after the migrations.

    Connects as the owner (WATERBILL_MIGRATION_DATABASE_URL, else WATERBILL_DATABASE_URL); the
    password is never printed.
    """
    from core.runtime_role import RuntimeRoleError, ensure_runtime_login

    password = _password(password_file)
    try:
        created = ensure_runtime_login(get_settings().migration_dsn, name, password)
    except RuntimeRoleError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(f"role {name} {'created' if created else 'updated'} in waterbill_app")
