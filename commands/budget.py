"""`budget set | list | delete`: monthly spend budgets with alert thresholds."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from commands.common import DbOption, JsonOption, cli_actor, emit_json, fail, open_db, warn
from core.currency import BASE
from db.budgets import (
    Budget,
    BudgetError,
    delete_budget,
    list_budgets,
    scope_note,
    set_budget,
)

budget_app = typer.Typer(
    help="Monthly budgets (USD or another currency) with alert thresholds.", no_args_is_help=True
)


def budget_record(budget: Budget) -> dict:
    """One budget as JSON (amount as a decimal string; `amount_usd` for a USD budget)."""
    amount = (
        {"amount_usd": budget.amount}
        if budget.currency == BASE
        else {"amount": budget.amount, "currency": budget.currency}
    )
    return {
        "name": budget.name,
        **amount,
        "scope": budget.scope,
        "thresholds": list(budget.thresholds_pct),
        "timezone": budget.timezone,
        "forecast_alert": budget.forecast_alert,
    }


def amount_text(budget: Budget) -> str:
    """$500 for a USD budget, 500 EUR for one in another currency."""
    if budget.currency == BASE:
        return f"${budget.amount:,}"
    return f"{budget.amount:,} {budget.currency}"


@budget_app.command("set")
def set_command(
    name: Annotated[str, typer.Option("--name", help="Budget name (updates it if it exists).")],
    amount: Annotated[
        str, typer.Option("--amount", help="Monthly amount in the budget's currency, e.g. 500.")
    ],
    scope: Annotated[
        str,
        typer.Option(
            "--scope",
            help="all, project:NAME, model:NAME, tag:NAME, feature:NAME or provider:NAME. A model "
            "counts every name it was logged under (model:gpt-4o includes gpt-4o-2024-08-06).",
        ),
    ] = "all",
    thresholds: Annotated[
        str, typer.Option("--thresholds", help="Alert thresholds in percent of the budget.")
    ] = "50,75,90,100",
    timezone: Annotated[
        str, typer.Option("--timezone", help="IANA timezone in which the month starts.")
    ] = "UTC",
    currency: Annotated[
        str,
        typer.Option(
            "--currency",
            help="ISO code of the amount, e.g. EUR; spend is compared at the rate recorded for "
            "the day of each check (Exchange rates page).",
        ),
    ] = BASE,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create or update a monthly budget."""
    engine = open_db(db)
    try:
        budget = set_budget(
            engine,
            name=name,
            amount=amount,
            currency=currency,
            scope=scope,
            thresholds=thresholds,
            timezone=timezone,
            actor=cli_actor(),
        )
    except BudgetError as exc:
        fail(str(exc))
    if note := scope_note(engine, budget.scope):
        warn(f"note: {note}")
    if as_json:
        emit_json(budget_record(budget))
        return
    typer.echo(
        f"budget {budget.name!r}: {amount_text(budget)} a month, scope {budget.scope}, "
        f"thresholds {','.join(map(str, budget.thresholds_pct))} %, month starts in {budget.timezone}"
    )


@budget_app.command("list")
def list_command(db: DbOption = None, as_json: JsonOption = False) -> None:
    """List every budget."""
    budgets = list_budgets(open_db(db))
    if as_json:
        emit_json({"count": len(budgets), "budgets": [budget_record(b) for b in budgets]})
        return
    if not budgets:
        typer.echo("no budgets yet; add one with: budget set --name NAME --amount USD")
        return
    table = Table("name", "amount", "scope", "thresholds", "timezone")
    for b in budgets:
        thresholds = ",".join(map(str, b.thresholds_pct))
        table.add_row(b.name, amount_text(b), b.scope, thresholds, b.timezone)
    Console().print(table)


@budget_app.command("delete")
def delete_command(
    name: Annotated[str, typer.Argument(help="The budget's name.")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete a budget (its alert history is kept)."""
    if not delete_budget(open_db(db), name, actor=cli_actor()):
        fail(f"no budget named {name!r}")
    if as_json:
        emit_json({"deleted": name})
    else:
        typer.echo(f"budget {name!r} deleted")


def register(app: typer.Typer) -> None:
    """Add `budget set|list|delete` to the CLI."""
    app.add_typer(budget_app, name="budget")
