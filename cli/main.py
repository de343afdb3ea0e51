"""``waterbill``: each command parses its options, then calls the package that does the work."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli import alerts as alerts_cli
from cli import bill, db, rollup, users
from cli import meters as meters_cli
from cli.analyze import analyze
from cli.simulate import simulate
from cli.worker import worker
from core.config import get_settings, settings_reference
from core.logging import setup_logging

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="WaterBill: connected water meters to bills."
)
console = Console()
app.command()(analyze)
app.command("rollup")(rollup.rollup)
app.command("simulate")(simulate)
app.command("worker")(worker)
app.add_typer(users.app, name="users")
app.add_typer(meters_cli.app, name="meters")
app.add_typer(alerts_cli.app, name="alerts")
app.add_typer(bill.app, name="bill")
app.add_typer(db.app, name="db")


@app.callback()
def main() -> None:
    """WaterBill: connected water meters to bills."""
    setup_logging(get_settings())


@app.command("settings")
def show_settings(
    markdown: Annotated[
        bool, typer.Option(help="Print a Markdown table (the docs' configuration page).")
    ] = False,
) -> None:
    """List every setting with its environment variable and default."""
    rows = settings_reference()
    if markdown:
        typer.echo("| variable | default | meaning |\n|---|---|---|")
        for row in rows:
            default = f"`{row['default']}`" if row["default"] else ""
            typer.echo(f"| `{row['env']}` | {default} | {row['description']} |")
        return
    table = Table("variable", "default", "meaning")
    for row in rows:
        table.add_row(row["env"], row["default"], row["description"])
    console.print(table)


@app.command()
def migrate(
    revision: Annotated[str, typer.Option(help="Alembic revision to reach.")] = "head",
) -> None:
    """Create the database if needed and apply the schema migrations (a no-op when current).

    Runs as the owner: WATERBILL_MIGRATION_DATABASE_URL, else WATERBILL_DATABASE_URL.
    """
    from core import migrate as migrations

    settings = get_settings()
    migrations.upgrade(settings, revision)
    console.print(f"schema at {migrations.current_revision(settings.migration_dsn)}")


@app.command()
def api(
    host: Annotated[str | None, typer.Option(help="Listen address.")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port.")] = None,
) -> None:
    """Serve the HTTP API (and the web pages) with uvicorn."""
    import uvicorn

    from api.serve import uvicorn_config

    settings = get_settings()
    uvicorn.Server(uvicorn_config(settings, host=host, port=port)).run()


@app.command()
def up(
    meters: Annotated[int, typer.Option(help="Simulated meters to run.")] = 200,
    state_dir: Annotated[
        str, typer.Option(help="Where the local database and broker keep their data.")
    ] = ".waterbill",
    api_port: Annotated[int, typer.Option(help="Port of the API.")] = 8000,
) -> None:
    """Start the whole stack locally: database, broker, ingest, a job worker, API and a fleet."""
    from cli.up import run_stack

    raise typer.Exit(run_stack(meters=meters, state_dir=state_dir, api_port=api_port))


from cli.ingest import ingest, quarantine_app  # noqa: E402

app.command()(ingest)
app.add_typer(quarantine_app, name="quarantine")

from cli.payments import payments_app, remind  # noqa: E402

bill.app.command("remind")(remind)
app.add_typer(payments_app, name="payments")
