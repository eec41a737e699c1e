"""`import-anthropic`: pull Anthropic's usage and cost reports into the database."""

from __future__ import annotations

import typer

from commands.common import DbOption, JsonOption
from commands.import_openai import DaysOption
from commands.usage_import import run_import
from integrations.anthropic_import import ANTHROPIC


def import_anthropic(
    days: DaysOption = 30, db: DbOption = None, as_json: JsonOption = False
) -> None:
    """Import usage (per model, workspace and tier) and billed costs from Anthropic's Admin API.

    Needs an admin key in ANTHROPIC_ADMIN_KEY (environment or .streamlit/secrets.toml).
    Importing the same days again changes nothing.
    """
    run_import(ANTHROPIC, days, db, as_json)


def register(app: typer.Typer) -> None:
    """Add `import-anthropic` to the CLI."""
    app.command("import-anthropic")(import_anthropic)
