"""Plans, projections, tornado bars and conversation costs as tables for pages and exports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

import pandas as pd

from core.plans.conversation import StrategyCost
from core.plans.costs import PlanCost
from core.plans.growth import ProjectionMonth
from core.plans.sensitivity import TornadoBar
from core.plans.workload import exact


def scenario_frame(plans: Sequence[tuple[str, PlanCost]]) -> pd.DataFrame:
    """Named plans side by side: model, volume and the cost split (exact Decimal)."""
    rows = [
        {
            "scenario": name,
            "model": p.model,
            "monthly_usd": p.monthly_usd,
            "yearly_usd": p.yearly_usd,
            "requests_per_day": p.requests_per_day,
            "cost_per_request_usd": p.cost_per_request_usd,
            "daily_usd": p.daily_usd,
            "uncached_input_usd": p.monthly.uncached_input_usd,
            "cached_input_usd": p.monthly.cached_input_usd,
            "output_usd": p.monthly.output_usd,
        }
        for name, p in plans
    ]
    return pd.DataFrame(rows)


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
