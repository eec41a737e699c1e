"""Grouped traffic: its columns, token-size cut points, planned traffic and its preparation.

One row per (model, project, feature, status, batch, input-token bucket, output-token bucket)
with a request count and token sums; `in_min`..`out_max` are the smallest and largest input
and output token counts of a request in the row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd

from core.identity import canonical
from core.pricing import PriceBook, Rates
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
INPUT_CUTS = (256, 512, 1000, 2000, 4000, 8000, 16000, 32000, 128000)
OUTPUT_CUTS = (100, 250, 500, 1000, 2000, 4000)


def cut_points(
    rules: Sequence[Rule], book: PriceBook, when: date | datetime | None = None
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Input and output cut points making every rule threshold and context window a bucket edge."""
    inputs, outputs = set(INPUT_CUTS), set(OUTPUT_CUTS)
    for rule in rules:
        inputs |= {v for v in (rule.max_input_tokens,) if v is not None}
        inputs |= {v - 1 for v in (rule.min_input_tokens,) if v}
        outputs |= {v for v in (rule.max_output_tokens,) if v is not None}
        outputs |= {v - 1 for v in (rule.min_output_tokens,) if v}
        rates = book.price_at(rule.target, when) if rule.target else None
        if isinstance(rates, Rates) and rates.context_window:
            inputs.add(rates.context_window)
    return tuple(sorted(inputs)), tuple(sorted(outputs))


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
