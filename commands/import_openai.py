"""`import-openai`: pull OpenAI's Usage and Costs APIs into the database for reconciliation."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from commands.common import DbOption, JsonOption, emit_json, fail, open_db
from db.prices import load_price_book
from db.reconcile import reconcile
from integrations.openai_import import ImportFailed, env_or_secrets, import_days


def import_openai(
    days: Annotated[int, typer.Option("--days", help="Import the last N UTC days.")] = 30,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import usage (per model and project) and billed costs from OpenAI's organization APIs.

    Needs an admin key in OPENAI_ADMIN_KEY (environment or .streamlit/secrets.toml).
    Importing the same days again changes nothing.
    """
    if days < 1:
        fail("--days must be at least 1")
    engine = open_db(db)
    try:
        report = import_days(engine, days, config=env_or_secrets())
    except ImportFailed as exc:
        fail(str(exc))
    result = reconcile(
        engine,
        load_price_book(engine),
        report.start.date(),
        (report.end - timedelta(days=1)).date(),
    )
    summary = {
        **report.as_dict(),
        "computed_usd": result.computed_usd,
        "billed_usd": result.billed_usd,
        "flagged": result.flagged,
    }
    if as_json:
        emit_json(summary)
        return
    typer.echo(
        f"imported {report.usage_rows} usage rows ({report.usage_pages} pages) and "
        f"{report.cost_rows} cost rows ({report.cost_pages} pages); "
        f"{report.usage_changed + report.cost_changed} new or changed"
    )
    typer.echo(
        f"computed ${result.computed_usd:.2f} vs billed ${result.billed_usd:.2f}; "
        f"{result.flagged} day/model rows differ by more than 2 % (see the Reconciliation page)"
    )


def register(app: typer.Typer) -> None:
    """Add `import-openai` to the CLI."""
    app.command("import-openai")(import_openai)
