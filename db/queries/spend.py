"""Spend and traffic of the Usage page: KPIs, per day and model, per project, per model.

Models are canonical ids (`model_id`); `model_names` is the drill-down that splits each one
by the names it was logged under (`gpt-4o`, `gpt-4o-2024-08-06`, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pandas as pd
from sqlalchemy import Engine, and_, true
from sqlalchemy import select as sa_select

from core.costs import picos_to_usd
from core.stats import LATENCY_EDGES_MS, percentile
from db.queries.common import (
    FEATURE_MODELS,
    FEATURES,
    RATE_LIMITED,
    UsageFilters,
    bucket_totals,
    rollup_for,
    run_frame,
    total,
    total_if,
    usage_table,
    where,
)

KPI_SUMS = (
    "requests",
    "unpriced_requests",
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "cost_pusd",
    "truncated",
    "cache_savings_pusd",
)
DAILY_COLUMNS = [
    "day",
    "model_id",
    "requests",
    "unpriced_requests",
    "errors",
    "rate_limited",
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "cost_pusd",
    "cache_savings_pusd",
    "truncated",
]
MODEL_COLUMNS = [
    "model_id",
    "model",
    "requests",
    "unpriced_requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cost_pusd",
]


@dataclass(frozen=True)
class UsageKpis:
    """Headline figures for the filtered traffic."""

    requests: int
    unpriced_requests: int
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    cost_usd: Decimal
    month_start: date | None
    month_to_date_usd: Decimal
    errors: int
    rate_limited: int
    truncated: int
    cache_savings_usd: Decimal
    p50_latency_ms: float | None
    p95_latency_ms: float | None

    @property
    def tokens(self) -> int:
        """Input plus output tokens (input already includes cached tokens)."""
        return self.input_tokens + self.output_tokens

    @property
    def avg_cost_per_request_usd(self) -> Decimal | None:
        """Spend over *priced* requests (unpriced ones carry no cost, so are left out)."""
        priced = self.requests - self.unpriced_requests
        return self.cost_usd / priced if priced > 0 else None

    @property
    def error_share(self) -> float | None:
        """Share of requests with status 400 or above."""
        return self.errors / self.requests if self.requests else None


def _month_start(filters: UsageFilters) -> date | None:
    """The first day of the end date's month (the "month to date" of the KPIs)."""
    return filters.end.replace(day=1) if filters.end else None


def kpi_totals(engine: Engine, filters: UsageFilters) -> list[int]:
    """One row of sums: the filtered range, plus spend from the month start to the end date."""
    table = usage_table(filters)
    r = table.c
    month_start = _month_start(filters)
    lower = filters.start
    if month_start is not None and (lower is None or month_start < lower):
        lower = month_start
    in_range = r.day >= filters.start if filters.start is not None else true()
    in_month = r.day >= month_start if month_start is not None else true()
    query = sa_select(
        *(total_if(in_range, r[name]) for name in KPI_SUMS),
        total_if(in_month, r.cost_pusd),
        total_if(and_(in_range, r.status >= 400), r.requests),
        total_if(and_(in_range, r.status == RATE_LIMITED), r.requests),
    ).where(where(table, filters, start=lower))
    with engine.connect() as conn:
        return [int(v) for v in conn.execute(query).one()]


def assemble_kpis(
    totals: list[int], filters: UsageFilters, latency: pd.DataFrame | None
) -> UsageKpis:
    """KPIs from `kpi_totals` and a latency frame with bucket and count columns (P50 and P95):
    `latency_buckets`, or `latency_histogram` (the same counts split by day and model)."""
    sums = dict(zip(KPI_SUMS, totals, strict=False))
    month_to_date_pusd, errors, rate_limited = totals[len(KPI_SUMS) :]
    counts = bucket_totals(latency)
    return UsageKpis(
        requests=sums["requests"],
        unpriced_requests=sums["unpriced_requests"],
        input_tokens=sums["input_tokens"],
        cached_input_tokens=sums["cached_input_tokens"],
        output_tokens=sums["output_tokens"],
        cost_usd=picos_to_usd(sums["cost_pusd"]),
        month_start=_month_start(filters),
        month_to_date_usd=picos_to_usd(month_to_date_pusd),
        errors=errors,
        rate_limited=rate_limited,
        truncated=sums["truncated"],
        cache_savings_usd=picos_to_usd(sums["cache_savings_pusd"]),
        p50_latency_ms=percentile(counts, LATENCY_EDGES_MS, 0.50),
        p95_latency_ms=percentile(counts, LATENCY_EDGES_MS, 0.95),
    )


def kpis(engine: Engine, filters: UsageFilters, latency: pd.DataFrame | None = None) -> UsageKpis:
    """Headline figures; P50/P95 come from `latency` (a `latency_histogram` frame) when given."""
    return assemble_kpis(kpi_totals(engine, filters), filters, latency)


def daily_by_model(engine: Engine, filters: UsageFilters) -> pd.DataFrame:
    """One row per day and model: requests, errors, 429s, tokens, cost, caching savings."""
    table = usage_table(filters)
    r = table.c
    query = (
        sa_select(
            r.day,
            r.model_id,
            total(r.requests),
            total(r.unpriced_requests),
            total_if(r.status >= 400, r.requests),
            total_if(r.status == RATE_LIMITED, r.requests),
            total(r.input_tokens),
            total(r.cached_input_tokens),
            total(r.cache_write_tokens),
            total(r.output_tokens),
            total(r.cost_pusd),
            total(r.cache_savings_pusd),
            total(r.truncated),
        )
        .where(where(table, filters))
        .group_by(r.day, r.model_id)
        .order_by(r.day, r.model_id)
    )
    return run_frame(engine, query, DAILY_COLUMNS)


def daily_totals(daily: pd.DataFrame) -> pd.DataFrame:
    """Per-day totals of `daily_by_model`, with uncached input tokens and the error share."""
    totals = daily.drop(columns="model_id").groupby("day", as_index=False, sort=True).sum()
    totals["uncached_input_tokens"] = (
        totals["input_tokens"] - totals["cached_input_tokens"] - totals["cache_write_tokens"]
    )
    totals["error_share"] = totals["errors"] / totals["requests"].where(totals["requests"] > 0)
    return totals


def unpriced_models(daily: pd.DataFrame) -> dict[str, int]:
    """Models with requests the price book could not price, and how many."""
    counts = daily.groupby("model_id")["unpriced_requests"].sum()
    return {str(m): int(n) for m, n in counts.items() if n > 0}


def by_project_feature(engine: Engine, filters: UsageFilters) -> pd.DataFrame:
    """Cost and requests per project and feature, most expensive first: from the feature
    rollup (read in its key order), under a model filter from the feature rollup by model,
    unless a filter needs the daily rollup's other columns."""
    table = rollup_for(filters, FEATURES, FEATURE_MODELS)
    r = table.c
    query = (
        sa_select(
            r.project,
            r.feature,
            total(r.requests),
            total(r.unpriced_requests),
            total(r.cost_pusd),
        )
        .where(where(table, filters))
        .group_by(r.project, r.feature)
    )
    columns = ["project", "feature", "requests", "unpriced_requests", "cost_pusd"]
    df = run_frame(engine, query, columns)
    return df.sort_values(["cost_pusd", "project", "feature"], ascending=[False, True, True])


def model_names(engine: Engine, filters: UsageFilters) -> pd.DataFrame:
    """Per canonical model and logged name: requests, errors, tokens and cost (the drill-down)."""
    table = usage_table(filters)
    r = table.c
    query = (
        sa_select(
            r.model_id,
            r.model,
            total(r.requests),
            total(r.unpriced_requests),
            total_if(r.status >= 400, r.requests),
            total(r.input_tokens),
            total(r.output_tokens),
            total(r.cost_pusd),
        )
        .where(where(table, filters))
        .group_by(r.model_id, r.model)
    )
    df = run_frame(engine, query, MODEL_COLUMNS)
    order = ["model_id", "cost_pusd", "model"]
    return df.sort_values(order, ascending=[True, False, True], ignore_index=True)


def model_totals(names: pd.DataFrame) -> pd.DataFrame:
    """Per canonical model, `model_names` summed over its logged names; most expensive first."""
    grouped = names.groupby("model_id", sort=True)
    sums = grouped[MODEL_COLUMNS[2:]].sum().reset_index()
    sums["logged_names"] = grouped["model"].nunique().to_numpy()
    order = ["cost_pusd", "model_id"]
    return sums.sort_values(order, ascending=[False, True], ignore_index=True)
