"""`simulate`: what a routing change would save on the logged traffic."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from commands.common import DbOption, JsonOption, emit_json, fail, open_db, warn
from core.routing import Rule, RuleError, Simulation, parse_rule
from db.prices import load_price_book
from db.traffic import period, simulate_logged

RuleOption = Annotated[
    list[str],
    typer.Option(
        "--rule",
        help="key=value,... e.g. model=gpt-4o,max_input_tokens=2000,target=gpt-4o-mini,"
        "share=0.67,escalation=0.05 (repeat; first match wins). Keys: model, project, feature, "
        "status, min/max_input_tokens, min/max_output_tokens, target, share, escalation, "
        "batch_share, cache_uplift_points. model=gpt-4o matches every name gpt-4o was logged "
        "under (gpt-4o-2024-08-06 too); a model or target that names nothing logged or priced "
        "is refused.",
    ),
]
DateOption = Annotated[str | None, typer.Option(help="YYYY-MM-DD (default: the logged span).")]


def _date(text: str | None, flag: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{flag} must be a date like 2025-06-30, got {text!r}")


def _count(value: Decimal) -> int | float:
    """Request and token counts: whole numbers stay ints, expected fractions keep 2 places."""
    return int(value) if value == value.to_integral_value() else round(float(value), 2)


def rule_records(result: Simulation, rules: list[Rule]) -> list[dict[str, Any]]:
    """Per-rule figures for the JSON output."""
    return [
        {
            "rule": r.number,
            "description": r.label,
            "spec": rule.to_dict(),
            "matched_requests": r.matched_requests,
            "requests_moved": _count(r.requests_moved),
            "tokens_moved": _count(r.tokens_moved),
            "requests_blocked_by_context": r.requests_blocked,
            "requests_escalated": _count(r.requests_escalated),
            "requests_to_batch": _count(r.requests_to_batch),
            "baseline_cost_usd": r.baseline_usd,
            "scenario_cost_usd": r.scenario_usd,
            "savings_usd": r.savings_usd,
            "monthly_savings_usd": result.monthly(r.savings_usd),
            "break_even_escalation": r.break_even_escalation,
        }
        for r, rule in zip(result.rules, rules, strict=True)
    ]


def payload(result: Simulation, rules: list[Rule], start: date, end: date) -> dict[str, Any]:
    """The `simulate --json` object of the CLI contract."""
    share = result.savings_share
    return {
        "from": start,
        "to": end,
        "period_days": result.period_days,
        "requests": result.requests,
        "baseline_cost_usd": result.baseline_usd,
        "scenario_cost_usd": result.scenario_usd,
        "savings_usd": result.savings_usd,
        "savings_share": None if share is None else round(float(share), 6),
        "monthly_baseline_cost_usd": result.monthly(result.baseline_usd),
        "monthly_scenario_cost_usd": result.monthly(result.scenario_usd),
        "monthly_savings_usd": result.monthly(result.savings_usd),
        "rules": rule_records(result, rules),
        "models": [
            {
                "model": row.model,
                "requests_before": _count(row.requests_before),
                "requests_after": _count(row.requests_after),
                "baseline_cost_usd": row.baseline_usd,
                "scenario_cost_usd": row.scenario_usd,
            }
            for row in result.models.itertuples(index=False)
        ],
        "unpriced_models": result.unpriced,
    }


def _usd(value: Decimal) -> str:
    return f"${value.quantize(Decimal('0.01'), ROUND_HALF_UP):,}"


def _print(result: Simulation, start: date, end: date) -> None:
    console = Console()
    console.print(f"Traffic {start} .. {end}: {result.requests:,} priced requests")
    table = Table("rule", "description", "moved", "blocked (context)", "savings", "break-even")
    for r in result.rules:
        even = r.break_even_escalation
        table.add_row(
            str(r.number),
            r.label,
            f"{float(r.requests_moved):,.0f}",
            f"{r.requests_blocked:,}",
            _usd(r.savings_usd),
            "—" if even is None else f"{float(even) * 100:.1f} %",
        )
    console.print(table)
    console.print(
        f"baseline {_usd(result.baseline_usd)}  scenario {_usd(result.scenario_usd)}  "
        f"savings {_usd(result.savings_usd)} "
        f"(per 30-day month {_usd(result.monthly(result.savings_usd))})"
    )


def simulate(
    rule: RuleOption,
    from_: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD.")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Last day, YYYY-MM-DD.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Simulate routing rules on the logged traffic: baseline vs scenario cost and savings."""
    try:
        rules = [parse_rule(spec) for spec in rule]
    except RuleError as exc:
        fail(f"bad --rule: {exc}")
    start, end = _date(from_, "--from"), _date(to, "--to")
    if start and end and start > end:
        fail(f"--from {start} is after --to {end}")
    engine = open_db(db)
    span = period(engine, start, end)
    if span is None:
        warn("no logged traffic yet: run `python cli.py ingest FILE` or `python cli.py demo`")
        span = (start or date.today(), end or start or date.today())
    start, end = span
    try:
        result = simulate_logged(engine, rules, load_price_book(engine), start, end)
    except RuleError as exc:
        fail(f"bad --rule: {exc}")
    if result.unpriced:
        warn(f"left out (not in the price book): {', '.join(sorted(result.unpriced))}")
    if as_json:
        emit_json(payload(result, rules, start, end))
    else:
        _print(result, start, end)


def register(app: typer.Typer) -> None:
    """Add `simulate` to the CLI."""
    app.command("simulate")(simulate)
