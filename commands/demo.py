"""`demo`: load the deterministic 90-day demo traffic."""

from __future__ import annotations

from typing import Annotated

import typer

from commands.common import DbOption, cli_actor, open_db
from core.text import plural
from db.demo import load_demo
from integrations.alerting import check_alerts


def demo(
    db: DbOption = None,
    force: Annotated[bool, typer.Option(help="Load even when the database has data.")] = False,
) -> None:
    """Load 90 days of realistic demo traffic (skipped when the database has data), then check
    the alert rules over it, so the Budgets page opens on this month's alerts."""
    engine = open_db(db)
    loaded = load_demo(engine, force=force, actor=cli_actor())
    if not loaded:
        typer.echo("existing data kept, no demo loaded")
        return
    firing = len(check_alerts(engine, actor=cli_actor()).firing)
    typer.echo(
        f"demo data loaded ({plural(loaded, 'request')}; {plural(firing, 'alert')} this month)"
    )


def register(app: typer.Typer) -> None:
    """Add `demo` to the CLI."""
    app.command("demo")(demo)
