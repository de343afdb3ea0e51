"""``waterbill alerts``: text customers about confirmed incidents."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import psycopg
import typer
from rich.console import Console

from core.config import get_settings

app = typer.Typer(no_args_is_help=True, help="Customer SMS alerts about incidents.")
console = Console()


@app.command("send")
def send(
    limit: Annotated[int, typer.Option(min=1, help="Deliveries handled at most.")] = 1000,
) -> None:
    """Queue SMS for newly confirmed incidents, decide the due ones, then drain the SMS outbox."""
    from analytics.alerts.service import run_alerts
    from core.notifications.service import RetryPolicy
    from core.sms import make_sms_provider

    settings = get_settings()
    with psycopg.connect(settings.dsn, autocommit=True) as conn:
        report = run_alerts(
            conn,
            provider=make_sms_provider(settings),
            policy=RetryPolicy.of(settings.sms),
            now=datetime.now(UTC),
            options=settings.alerts,
            limit=limit,
        )
    console.print(str(report))
