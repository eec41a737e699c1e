"""`plan`: what a planned workload costs a month on one model (and on every model)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from commands.common import DbOption, JsonOption, emit_json, fail, open_db
from core.plans import PlanCost, PlanError, RateMatrix, Workload, cents, compare_models, plan_cost
from core.plans import projection as project
from core.pricing import Unpriced
from db.prices import load_price_book


def _decimal(text: str, name: str) -> Decimal:
    try:
        return Decimal(text.strip().rstrip("%")) / (100 if text.strip().endswith("%") else 1)
    except InvalidOperation:
        fail(f"{name} must be a number, got {text!r}")


def plan_record(plan: PlanCost) -> dict[str, Any]:
    """One model's cost for the workload, as the JSON contract shows it."""
    monthly = plan.monthly
    return {
        "provider": plan.provider,
        "model": plan.model,
        "monthly_cost_usd": plan.monthly_usd,
        "daily_cost_usd": plan.daily_usd,
        "cost_per_request_usd": plan.cost_per_request_usd,
        "cost_per_1k_requests_usd": plan.per_1k_requests_usd,
        "yearly_cost_usd": plan.yearly_usd,
        "uncached_input_usd": monthly.uncached_input_usd,
        "cached_input_usd": monthly.cached_input_usd,
        "output_usd": monthly.output_usd,
        "context_window": plan.context_window,
        "fits_context": plan.fits_context,
    }


def _workload(
    requests_per_day: str,
    input_tokens: int,
    output_tokens: int,
    cache: str,
    batch: str,
    growth: str,
    months: int,
) -> Workload:
    try:
        return Workload(
            requests_per_day=_decimal(requests_per_day, "--requests-per-day"),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_hit_share=_decimal(cache, "--cache-hit-rate"),
            batch_share=_decimal(batch, "--batch-share"),
            growth_monthly_share=_decimal(growth, "--growth"),
            months=months,
            pricing_date=date.today(),
        )
    except PlanError as exc:
        fail(str(exc))


def _print_table(plan: PlanCost, comparison: list[PlanCost] | None) -> None:
    console = Console()
    console.print(f"[bold]{plan.provider}/{plan.model}[/bold]")
    console.print(f"  per request  ${plan.cost_per_request_usd.normalize():f}")
    console.print(f"  per day      ${cents(plan.daily_usd):,}")
    console.print(f"  per month    ${cents(plan.monthly_usd):,}")
    console.print(f"  per year     ${cents(plan.yearly_usd):,}")
    if comparison:
        table = Table("provider", "model", "monthly", "per request", "fits context")
        for p in comparison:
            fits = {True: "yes", False: "NO", None: "?"}[p.fits_context]
            table.add_row(
                p.provider,
                p.model,
                f"${cents(p.monthly_usd):,}",
                f"${p.cost_per_request_usd.normalize():f}",
                fits,
            )
        console.print(table)


def plan(
    model: Annotated[str, typer.Option("--model", help="Model name, e.g. gpt-4o.")],
    requests_per_day: Annotated[str, typer.Option("--requests-per-day", help="Requests per day.")],
    input_tokens: Annotated[int, typer.Option("--input-tokens", min=0, help="Avg input tokens.")],
    output_tokens: Annotated[
        int, typer.Option("--output-tokens", min=0, help="Avg output tokens.")
    ],
    cache_hit_rate: Annotated[
        str, typer.Option("--cache-hit-rate", help="Share of input tokens cached, 0..1 or 40%.")
    ] = "0",
    batch_share: Annotated[
        str, typer.Option("--batch-share", help="Share of requests sent via Batch API, 0..1.")
    ] = "0",
    growth: Annotated[
        str, typer.Option("--growth", help="Monthly volume growth, 0.05 or 5%.")
    ] = "0",
    months: Annotated[
        int, typer.Option("--months", min=1, max=120, help="Projection horizon.")
    ] = 12,
    compare: Annotated[
        bool, typer.Option("--compare", help="Price it on every model too.")
    ] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Monthly cost of a planned workload (30-day month); --compare prices every model."""
    workload = _workload(
        requests_per_day, input_tokens, output_tokens, cache_hit_rate, batch_share, growth, months
    )
    book = load_price_book(open_db(db))
    rates = book.price_at(model, workload.pricing_date)
    if isinstance(rates, Unpriced):
        fail(f"model {model!r} is {rates.reason}")
    result = plan_cost(workload, rates)
    comparison = (
        compare_models(workload, RateMatrix.from_rates(book.table(kind="text")))
        if compare
        else None
    )
    if not as_json:
        _print_table(result, comparison)
        return
    payload = {"requested_model": model, **plan_record(result), "workload": workload.to_params()}
    payload["projection"] = [
        {
            "month": m.month,
            "monthly_cost_usd": cents(m.monthly_usd),
            "cumulative_usd": cents(m.cumulative_usd),
        }
        for m in project(result, workload)
    ]
    if comparison is not None:
        payload["models"] = [plan_record(p) for p in comparison]
    emit_json(payload)


def register(app: typer.Typer) -> None:
    """Add `plan` to the CLI."""
    app.command("plan")(plan)
