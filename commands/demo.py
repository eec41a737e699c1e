"""`demo`: load the deterministic 90-day demo traffic."""

from __future__ import annotations

from typing import Annotated

import typer

from commands.common import DbOption, open_db
from db.demo import load_demo


def demo(
    db: DbOption = None,
    force: Annotated[bool, typer.Option(help="Load even when the database has data.")] = False,
) -> None:
    """Load 90 days of realistic demo traffic (skipped when the database has data)."""
    loaded = load_demo(open_db(db), force=force)
    typer.echo(
        f"demo data loaded ({loaded:,} requests)"
        if loaded
        else "existing data kept, no demo loaded"
    )


def register(app: typer.Typer) -> None:
    """Add `demo` to the CLI."""
    app.command("demo")(demo)
