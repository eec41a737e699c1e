"""Grouped traffic: its columns, token-size cut points, planned traffic and its preparation.

One row per (model, project, feature, status, batch, input-token bucket, output-token bucket)
with a request count and token sums; `in_min`..`out_max` are the smallest and largest input
and output token counts of a request in the row.

Logged traffic comes from the routing rollup, whose buckets lie on fixed grids
(`core.rollups.INPUT_GRID`, `OUTPUT_GRID`). A simulation is exact to the request when no
group straddles an edge that decides something: a rule's token thresholds, a target's context
window, a long-context tier edge. `cut_points` lists those edges; when all of them lie on the
grids the rollup answers, otherwise only single requests can (`grid_problem` says which edge
is off the grid and the nearest edges on it).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd

from core.identity import canonical
from core.pricing import PriceBook, Rates
from core.rollups import INPUT_EDGES, INPUT_GRID, OUTPUT_EDGES, OUTPUT_GRID
from core.routing.rules import Rule

TOKEN_COLUMNS = ("input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens")
TRAFFIC_COLUMNS = (
    "model",
    "project",
    "feature",
    "status",
    "batch",
    "requests",
    *TOKEN_COLUMNS,
    "in_min",
    "in_max",
    "out_min",
    "out_max",
)
# Default token-size cut points (a bucket holds lo < tokens <= cut); rule thresholds are added.
# Every one is an edge of the rollup's grids.
INPUT_CUTS = (256, 512, 1000, 2000, 4000, 8000, 16000, 32000, 128000)
OUTPUT_CUTS = (100, 250, 500, 1000, 2000, 4000)
WHERE = "of the routing rollup's token-size buckets"


def tier_edges(
    rules: Sequence[Rule], book: PriceBook, when: date | datetime | None = None
) -> set[int]:
    """Long-context tier edges the rules' traffic is priced across: of the rules' models and
    targets, or of every model when a rule takes any model's traffic."""
    if any(not rule.model for rule in rules):
        found: Iterable[object] = book.table(when)
    else:
        names = {r.model for r in rules} | {r.target for r in rules if r.target}
        found = (book.price_at(name, when) for name in names)
    return {t.above_tokens for r in found if isinstance(r, Rates) for t in r.tiers}


def cut_points(
    rules: Sequence[Rule], book: PriceBook, when: date | datetime | None = None
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Input and output cut points making every rule threshold, context window and tier edge a
    bucket edge."""
    inputs, outputs = set(INPUT_CUTS), set(OUTPUT_CUTS)
    for rule in rules:
        inputs |= {v for v in (rule.max_input_tokens,) if v is not None}
        inputs |= {v - 1 for v in (rule.min_input_tokens,) if v}
        outputs |= {v for v in (rule.max_output_tokens,) if v is not None}
        outputs |= {v - 1 for v in (rule.min_output_tokens,) if v}
        rates = book.price_at(rule.target, when) if rule.target else None
        if isinstance(rates, Rates) and rates.context_window:
            inputs.add(rates.context_window)
    if rules:
        inputs |= tier_edges(rules, book, when)
    return tuple(sorted(inputs)), tuple(sorted(outputs))


# The labels a rule can match on, each a grouped-traffic column; traffic read for rules that
# match on none of them is summed over it (fewer, larger groups, the same costs).
LABELS = ("project", "feature", "status")
SUMMED_OVER = {"project": "", "feature": "", "status": 0}  # what a summed-over label holds


def match_labels(rules: Sequence[Rule]) -> tuple[str, ...]:
    """The labels (`LABELS`) that some rule matches on, in that order."""
    return tuple(label for label in LABELS if any(getattr(rule, label) for rule in rules))


def off_grid(cuts: Iterable[int], grid: Sequence[int]) -> list[int]:
    """The cut points that are not edges of `grid`, in order."""
    edges = set(grid)
    return sorted(c for c in set(cuts) if c not in edges)


def _nearest(value: int, edges: Sequence[int]) -> str:
    """The round edges either side of `value`: "1,500 or 2,000"."""
    at = bisect.bisect_left(edges, value)
    return " or ".join(f"{edges[i]:,}" for i in (at - 1, at) if 0 <= i < len(edges))


def _threshold_problem(rule: Rule) -> str | None:
    """A token threshold of the rule that is not an edge of the rollup's grids."""
    for key, _, grid, edges in (
        ("max_input_tokens", rule.max_input_tokens, INPUT_GRID, INPUT_EDGES),
        ("min_input_tokens", rule.min_input_tokens, INPUT_GRID, INPUT_EDGES),
        ("max_output_tokens", rule.max_output_tokens, OUTPUT_GRID, OUTPUT_EDGES),
        ("min_output_tokens", rule.min_output_tokens, OUTPUT_GRID, OUTPUT_EDGES),
    ):
        value = getattr(rule, key)
        if value and (value - key.startswith("min")) not in grid:
            return f"{key}={value:,} is not an edge {{where}} (nearest: {_nearest(value, edges)})"
    return None


def grid_problem(
    rules: Sequence[Rule], book: PriceBook, when: date | datetime | None = None
) -> str | None:
    """Why the routing rollup cannot answer these rules exactly (an edge that decides something
    is off its token-size grids), else None."""
    for number, rule in enumerate(rules, 1):
        problem = _threshold_problem(rule)
        rates = book.price_at(rule.target, when) if rule.target else None
        window = rates.context_window if isinstance(rates, Rates) else None
        if problem is None and window and window not in INPUT_GRID:
            problem = (
                f"the context window of {rule.target} ({window:,} tokens) is not an edge {{where}}"
            )
        if problem is not None:
            return f"rule {number}: {problem.format(where=WHERE)}"
    for edge in sorted(tier_edges(rules, book, when) - set(INPUT_GRID)) if rules else ():
        return f"a long-context price tier at {edge:,} tokens is not an edge {WHERE}"
    return None


def empty_traffic() -> pd.DataFrame:
    """A grouped-traffic frame with no rows."""
    frame = pd.DataFrame({c: pd.Series(dtype="int64") for c in TRAFFIC_COLUMNS})
    for column in ("model", "project", "feature"):
        frame[column] = frame[column].astype(object)
    frame["batch"] = frame["batch"].astype(bool)
    return frame


def plan_traffic(
    model: str,
    requests: int,
    input_tokens_per_request: int,
    output_tokens_per_request: int,
    *,
    cache_hit_share: Decimal | float = 0,
    batch_share: Decimal | float = 0,
    project: str = "",
    feature: str = "",
) -> pd.DataFrame:
    """Grouped traffic for a planned workload: a real-time row and a batch row."""
    batch_requests = int(Decimal(str(batch_share)) * requests)
    rows = []
    for batch, count in ((False, requests - batch_requests), (True, batch_requests)):
        if count <= 0:
            continue
        input_sum = count * int(input_tokens_per_request)
        cached = int(Decimal(str(cache_hit_share)) * input_sum)
        rows.append(
            {
                "model": model,
                "project": project,
                "feature": feature,
                "status": 200,
                "batch": batch,
                "requests": count,
                "input_tokens": input_sum,
                "cached_input_tokens": cached,
                "cache_write_tokens": 0,
                "output_tokens": count * int(output_tokens_per_request),
                "in_min": int(input_tokens_per_request),
                "in_max": int(input_tokens_per_request),
                "out_min": int(output_tokens_per_request),
                "out_max": int(output_tokens_per_request),
            }
        )
    return pd.DataFrame(rows, columns=list(TRAFFIC_COLUMNS)) if rows else empty_traffic()


def traffic_from_plan(params: dict) -> tuple[pd.DataFrame, int, date | None]:
    """A saved plan (model + workload params) as one month of grouped traffic.

    Returns the traffic, the plan's days per month and its pricing date. Raises `ValueError`
    (a `PlanError`) when the parameters do not make a workload.
    """
    from core.plans import Workload

    workload = Workload.from_params(params)
    model = str(params.get("model") or "")
    if not model:
        raise ValueError("the saved plan names no model")
    frame = plan_traffic(
        model,
        int(workload.requests_per_month.to_integral_value()),
        workload.input_tokens,
        workload.billed_output_tokens,
        cache_hit_share=workload.cache_hit_share,
        batch_share=workload.batch_share,
    )
    return frame, workload.days_per_month, workload.pricing_date


def prepare_traffic(
    traffic: pd.DataFrame, book: PriceBook, when: date | datetime | None
) -> tuple[pd.DataFrame, dict[str, Rates], dict[str, int]]:
    """Attach canonical model names, means and rates; split off unpriced models."""
    frame = traffic[traffic["requests"] > 0].reset_index(drop=True)
    rates: dict[str, Rates] = {}
    unpriced: dict[str, int] = {}
    for model in frame["model"].unique():
        found = book.price_at(model, when)
        if isinstance(found, Rates):
            rates[model] = found
        else:
            unpriced[model] = int(frame.loc[frame["model"] == model, "requests"].sum())
    frame = frame[frame["model"].isin(list(rates))].reset_index(drop=True)
    ids = {m: canonical(book, m) for m in rates}
    frame["canonical"] = frame["model"].map(ids)
    requests = frame["requests"].to_numpy(np.int64)
    frame["in_mean"] = frame["input_tokens"].to_numpy(np.int64) / np.maximum(requests, 1)
    frame["out_mean"] = frame["output_tokens"].to_numpy(np.int64) / np.maximum(requests, 1)
    return frame, rates, unpriced
