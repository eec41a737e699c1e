"""`prices`: every model of the price book with its current prices."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from commands.common import DbOption, JsonOption, emit_json, fail, open_db
from core.pricing import PROVIDERS, Rates, as_row
from db.prices import load_price_book


def rates_record(rates: Rates) -> dict:
    """One model's prices as the JSON contract shows them (decimal strings)."""
    tiers = [
        {"above_tokens": t.above_tokens, "input_mtok": t.input_mtok, "output_mtok": t.output_mtok}
        for t in rates.tiers
    ]
    return {**as_row(rates), "long_context": tiers}


def prices(
    provider: Annotated[
        str | None, typer.Option("--provider", help=f"One of: {', '.join(PROVIDERS)}, custom.")
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """List every model with its current prices (USD per 1M tokens) and context window."""
    if provider and provider not in (*PROVIDERS, "custom"):
        fail(f"unknown provider {provider!r}; choose from {', '.join(PROVIDERS)}, custom")
    rows = load_price_book(open_db(db)).table()
    if provider:
        rows = [r for r in rows if r.provider == provider]
    if as_json:
        emit_json({"count": len(rows), "models": [rates_record(r) for r in rows]})
        return
    table = Table(
        "provider", "model", "input", "cached", "output", "batch in", "batch out", "context"
    )
    for r in rows:
        table.add_row(
            r.provider,
            r.model,
            f"{r.input_mtok}",
            f"{r.cached_input_mtok}" if r.cached_input_mtok is not None else "—",
            f"{r.output_mtok}",
            f"{r.batch_input_mtok}" if r.batch_input_mtok is not None else "—",
            f"{r.batch_output_mtok}" if r.batch_output_mtok is not None else "—",
            f"{r.context_window:,}" if r.context_window else "—",
        )
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add `prices` to the CLI."""
    app.command("prices")(prices)
