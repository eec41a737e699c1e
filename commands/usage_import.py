"""The shared body of `import-openai` and `import-anthropic`: import, reconcile, report."""

from __future__ import annotations

from datetime import timedelta

import typer

from commands.common import cli_actor, emit_json, fail, open_db
from db.prices import load_price_book
from db.reconcile import provider_name, reconcile
from integrations.usage_import import ImportFailed, Provider, env_or_secrets, import_days


def run_import(provider: Provider, days: int, db: str | None, as_json: bool) -> None:
    """Import the provider's last `days` days, then print what came in and how it reconciles;
    exit 2 with one line when the import cannot run."""
    if days < 1:
        fail("--days must be at least 1")
    engine = open_db(db)
    try:
        report = import_days(provider, engine, days, config=env_or_secrets(), actor=cli_actor())
    except ImportFailed as exc:
        fail(str(exc))
    last_day = (report.end - timedelta(days=1)).date()
    result = reconcile(
        engine, load_price_book(engine), report.start.date(), last_day, provider=report.provider
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
        f"computed ${result.computed_usd:.2f} vs billed by {provider_name(report.provider)} "
        f"${result.billed_usd:.2f}; {result.flagged} day/model rows differ by more than 2 % "
        "(see the Reconciliation page)"
    )
