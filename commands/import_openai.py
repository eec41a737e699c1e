"""`import-openai`: pull OpenAI's Usage and Costs APIs into the database for reconciliation."""

from __future__ import annotations

from typing import Annotated

import typer

from commands.common import DbOption, JsonOption
from commands.usage_import import run_import
from integrations.openai_import import OPENAI

DaysOption = Annotated[int, typer.Option("--days", help="Import the last N UTC days.")]


def import_openai(days: DaysOption = 30, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Import usage (per model and project) and billed costs from OpenAI's organization APIs.

    Needs an admin key in OPENAI_ADMIN_KEY (environment or .streamlit/secrets.toml).
    Importing the same days again changes nothing.
    """
    run_import(OPENAI, days, db, as_json)


def register(app: typer.Typer) -> None:
    """Add `import-openai` to the CLI."""
    app.command("import-openai")(import_openai)
