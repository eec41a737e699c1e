"""Plans, projections, tornado bars and conversation costs as tables for pages and exports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import date

import pandas as pd

from core.plans.conversation import StrategyCost
from core.plans.costs import PlanCost
from core.plans.growth import ProjectionMonth
from core.plans.questions import ModelSwitch
from core.plans.sensitivity import TornadoBar
from core.plans.workload import Workload, exact

ASSUMPTION_COLUMNS = (
    "scenario",
    "provider",
    "model",
    "pricing_date",
    "requests_per_day",
    "input_tokens",
    "output_tokens",
    "max_output_tokens",
    "cache_hit_share",
    "batch_share",
    "growth_monthly_share",
    "days_per_month",
    "months",
)
RESULT_COLUMNS = (
    "monthly_usd",
    "yearly_usd",
    "daily_usd",
    "cost_per_request_usd",
    "uncached_input_usd",
    "cached_input_usd",
    "output_usd",
)


def scenario_frame(
    plans: Sequence[tuple[str, Workload, PlanCost]], today: date | None = None
) -> pd.DataFrame:
    """Named plans side by side: every assumption, then the results (exact Decimal).

    A plan without a pricing date was priced on `today`.
    """
    rows = [
        {
            "scenario": name,
            "provider": p.provider,
            "model": p.model,
            "pricing_date": w.pricing_date or today,
            "requests_per_day": w.requests_per_day,
            "input_tokens": w.input_tokens,
            "output_tokens": w.output_tokens,
            "max_output_tokens": w.max_output_tokens,
            "cache_hit_share": w.cache_hit_share,
            "batch_share": w.batch_share,
            "growth_monthly_share": w.growth_monthly_share,
            "days_per_month": w.days_per_month,
            "months": w.months,
            "monthly_usd": p.monthly_usd,
            "yearly_usd": p.yearly_usd,
            "daily_usd": p.daily_usd,
            "cost_per_request_usd": p.cost_per_request_usd,
            "uncached_input_usd": p.monthly.uncached_input_usd,
            "cached_input_usd": p.monthly.cached_input_usd,
            "output_usd": p.monthly.output_usd,
        }
        for name, w, p in plans
    ]
    return pd.DataFrame(rows, columns=[*ASSUMPTION_COLUMNS, *RESULT_COLUMNS])


def comparison_frame(comparison: Sequence[PlanCost], selected: PlanCost) -> pd.DataFrame:
    """All models for one workload: cost, split, context fit and change against the selection."""
    base = selected.monthly_usd
    rows = []
    with exact():
        for p in comparison:
            rows.append(
                {
                    "provider": p.provider,
                    "model": p.model,
                    "monthly_usd": p.monthly_usd,
                    "cost_per_request_usd": p.cost_per_request_usd,
                    "per_1k_requests_usd": p.per_1k_requests_usd,
                    "uncached_input_usd": p.monthly.uncached_input_usd,
                    "cached_input_usd": p.monthly.cached_input_usd,
                    "output_usd": p.monthly.output_usd,
                    "context_window": p.context_window,
                    "fits_context": p.fits_context,
                    "vs_selected_share": (p.monthly_usd - base) / base if base else None,
                    "selected": (p.provider, p.model) == (selected.provider, selected.model),
                }
            )
    return pd.DataFrame(rows)


def switch_frame(switches: Sequence[ModelSwitch]) -> pd.DataFrame:
    """Cheaper models in the order to try them: why each is suggested, its cost and saving,
    its context window and whether the request fits it (None: the window is unknown)."""
    columns = (
        "reason",
        "provider",
        "model",
        "monthly_usd",
        "saving_usd",
        "saving_share",
        "context_window",
        "fits_context",
    )
    return pd.DataFrame([{c: getattr(sw, c) for c in columns} for sw in switches], columns=columns)


def differing_assumptions(frame: pd.DataFrame) -> list[str]:
    """The assumption columns of a scenario frame whose values differ between its rows."""
    return [
        column
        for column in ASSUMPTION_COLUMNS[1:]
        if column in frame and frame[column].astype(str).nunique() > 1
    ]


def projection_frame(months: Sequence[ProjectionMonth]) -> pd.DataFrame:
    """The projection as a table (exact Decimal money)."""
    return pd.DataFrame([asdict(m) for m in months])


def tornado_frame(bars: Sequence[TornadoBar]) -> pd.DataFrame:
    """Tornado bars as a table, widest first."""
    return pd.DataFrame([{**asdict(b), "spread_usd": b.spread_usd} for b in bars])


def conversation_frames(costs: Sequence[StrategyCost]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A summary table per strategy and a long frame of input tokens per turn (for a chart)."""
    full = next((c.per_conversation_usd for c in costs if c.strategy == "full"), None)
    table = pd.DataFrame(
        [
            {
                "strategy": c.label,
                "input_tokens": c.input_tokens,
                "output_tokens": c.output_tokens,
                "per_conversation_usd": c.per_conversation_usd,
                "monthly_usd": c.monthly_usd,
                "vs_full_share": (c.per_conversation_usd - full) / full if full else None,
            }
            for c in costs
        ]
    )
    turns = pd.DataFrame(
        [
            {"strategy": c.strategy, "label": c.label, "turn": i, "input_tokens": n}
            for c in costs
            for i, n in enumerate(c.turn_input_tokens, start=1)
        ]
    )
    return table, turns
