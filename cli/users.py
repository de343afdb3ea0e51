"""``waterbill users``: account chores for operators, such as bootstrapping the first admin."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Role
from core.config import Settings, get_settings
from core.countries import Language
from core.exceptions import AppError

app = typer.Typer(no_args_is_help=True, help="Manage user accounts.")


async def _create_admin(
    settings: Settings,
    *,
    phone: str,
    password: str,
    first_name: str,
    last_name: str,
    language: Language,
) -> int:
    from accounts import staff
    from core.db import make_async_engine
    from core.phone import normalise_phone

    e164 = normalise_phone(
        phone, default_country=settings.default_country, level=settings.auth.phone_validation
    )
    engine = make_async_engine(settings)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            user = await staff.create_user(
                session,
                phone=e164,
                first_name=first_name,
                last_name=last_name,
                password=password,
                language=language,
                role=Role.ADMIN,
                actor=None,
                ip=None,
            )
            return user.id
    finally:
        await engine.dispose()


@app.command("create-admin")
def create_admin(
    phone: Annotated[str, typer.Option(help="The admin's mobile number.")],
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="Password.")
    ],
    first_name: Annotated[str, typer.Option(help="First name.")] = "Admin",
    last_name: Annotated[str, typer.Option(help="Last name.")] = "",
    language: Annotated[Language, typer.Option(help="Language of SMS and pages.")] = Language.EN,
) -> None:
    """Create an active admin account (the first one, typically)."""
    from accounts.passwords import MAX_LENGTH, MIN_LENGTH, weakness

    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        typer.echo(f"the password must have {MIN_LENGTH} to {MAX_LENGTH} characters", err=True)
        raise typer.Exit(2)
    settings = get_settings()
    reason = weakness(
        password,
        min_score=settings.auth.password_min_score,
        user_inputs=(phone, first_name, last_name),
    )
    if reason is not None:
        typer.echo(reason, err=True)
        raise typer.Exit(2)
    try:
        user_id = asyncio.run(
            _create_admin(
                settings,
                phone=phone,
                password=password,
                first_name=first_name,
                last_name=last_name,
                language=language,
            )
        )
    except AppError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"admin {user_id} created")
