"""Usage dashboard queries: small aggregates over the daily rollups, never over raw rows.

Every function takes an engine and a `UsageFilters` and runs one SQL query grouped in SQL
(a handful of rows per day), so the Usage page stays fast at 10M+ stored requests. Money stays
in integer pico-dollars (`*_pusd`) in frames and exact `Decimal` USD in the small results.
Models are grouped and filtered by their canonical id (`model_id`); the names they were logged
under appear on drill-down only (`model_names`).

One module per part of the page: `common` (filters, sums), `spend` (KPIs, per day, project and
model), `reliability` (latency, cost of failure), `audit` (max_tokens). Everything public is
importable from `db.queries`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine

from db.queries.audit import (
    MAX_TOKENS_HEADROOM,
    MAX_TOKENS_QUANTILE,
    MAX_TOKENS_STEP,
    MaxTokensAudit,
    assemble_audit,
    max_tokens_audit,
    output_histogram,
    suggest_max_tokens,
)
from db.queries.common import (
    RATE_LIMITED,
    FilterValues,
    UsageFilters,
    filter_values,
)
from db.queries.reliability import (
    RETRY_DEFINITION,
    FailureCost,
    cost_of_failure,
    latency_buckets,
    latency_by_day,
    latency_histogram,
    latency_percentiles,
)
from db.queries.spend import (
    DAILY_COLUMNS,
    KPI_SUMS,
    UsageKpis,
    assemble_kpis,
    by_project_feature,
    daily_by_model,
    daily_totals,
    kpi_totals,
    kpis,
    model_names,
    model_totals,
    unpriced_models,
)

__all__ = [
    "DAILY_COLUMNS",
    "KPI_SUMS",
    "MAX_TOKENS_HEADROOM",
    "MAX_TOKENS_QUANTILE",
    "MAX_TOKENS_STEP",
    "RATE_LIMITED",
    "RETRY_DEFINITION",
    "FailureCost",
    "FilterValues",
    "MaxTokensAudit",
    "UsageFilters",
    "UsageKpis",
    "UsageReport",
    "assemble_audit",
    "assemble_kpis",
    "by_project_feature",
    "cost_of_failure",
    "daily_by_model",
    "daily_totals",
    "filter_values",
    "kpi_totals",
    "kpis",
    "latency_buckets",
    "latency_by_day",
    "latency_histogram",
    "latency_percentiles",
    "max_tokens_audit",
    "model_names",
    "model_totals",
    "output_histogram",
    "suggest_max_tokens",
    "unpriced_models",
    "usage_report",
]


@dataclass(frozen=True)
class UsageReport:
    """Everything the Usage page shows for one set of filters."""

    filters: UsageFilters
    kpis: UsageKpis
    daily: pd.DataFrame
    totals: pd.DataFrame
    latency: pd.DataFrame
    by_project: pd.DataFrame
    models: pd.DataFrame  # per canonical model (`model_totals`)
    logged_names: pd.DataFrame  # per canonical model and logged name (`model_names`)
    failure: FailureCost
    audit: MaxTokensAudit
    unpriced: dict[str, int]


def usage_report(engine: Engine, filters: UsageFilters) -> UsageReport:
    """Run every Usage page aggregate for `filters`: nine rollup queries, run concurrently."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        latency = pool.submit(latency_by_day, engine, filters)
        buckets = pool.submit(latency_buckets, engine, filters)
        output = pool.submit(output_histogram, engine, filters)
        daily_job = pool.submit(daily_by_model, engine, filters)
        totals = pool.submit(kpi_totals, engine, filters)
        by_project = pool.submit(by_project_feature, engine, filters)
        names = pool.submit(model_names, engine, filters)
        failure = pool.submit(cost_of_failure, engine, filters)
        daily = daily_job.result()
        return UsageReport(
            filters=filters,
            kpis=assemble_kpis(totals.result(), filters, buckets.result()),
            daily=daily,
            totals=daily_totals(daily),
            latency=latency.result(),
            by_project=by_project.result(),
            models=model_totals(names.result()),
            logged_names=names.result(),
            failure=failure.result(),
            audit=assemble_audit(output.result(), daily),
            unpriced=unpriced_models(daily),
        )
