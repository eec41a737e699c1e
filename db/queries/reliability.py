"""Latency percentiles and the cost of failure: what fails, how slow, and what it costs."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement, Engine, String, Subquery, and_, case, type_coerce
from sqlalchemy import select as sa_select

from core.costs import picos_to_usd
from core.stats import LATENCY_EDGES_MS, percentiles
from db.queries.common import (
    LATENCY,
    LATENCY_DAILY,
    QUANTILES,
    RATE_LIMITED,
    RETRY,
    ROLLUP,
    UsageFilters,
    as_days,
    histogram_table,
    rollup_for,
    run_frame,
    total,
    total_if,
    usage_table,
    where,
)

PERCENTILE_COLUMNS = ["day", "model_id", "requests", "p50_ms", "p95_ms"]
# The key `retry_daily` keeps the estimate by (the groups' key without feature).
RETRY_KEY = ("day", "provider", "model_id", "project", "batch")
RETRY_DEFINITION = (
    "Spent on failed calls: the priced tokens of every call with status 400 or above (exact). "
    "Retry spend (estimate): every 429 or 5xx call is taken to have been retried once, "
    "successfully; each retry is priced at the average successful call of the same day, model, "
    "project and feature, and a group never counts more retries than it had successful calls."
)


@dataclass(frozen=True)
class FailureCost:
    """Money lost to failures: failed calls (exact) and their retries (estimated)."""

    failed_usd: Decimal
    retries: int
    retry_usd: Decimal
    by_day: pd.DataFrame  # day, failed_pusd, retries, retry_pusd
    by_status: pd.DataFrame  # status, requests, cost_pusd

    @property
    def total_usd(self) -> Decimal:
        """Failed calls plus estimated retry spend."""
        return self.failed_usd + self.retry_usd


def latency_histogram(engine: Engine, filters: UsageFilters) -> pd.DataFrame:
    """Latency bucket counts per day and model (the input of every latency percentile).

    Without a project or status filter it reads the (day, model_id) histogram, ~30x fewer rows.
    """
    table = histogram_table(filters, LATENCY, LATENCY_DAILY)
    h = table.c
    # The day comes back raw (no per-row date parsing: ~30k rows at 90 days) and is converted
    # once per distinct day.
    query = (
        sa_select(type_coerce(h.day, String), h.model_id, h.bucket, total(h["count"]))
        .where(where(table, filters))
        .group_by(h.day, h.model_id, h.bucket)
    )
    frame = run_frame(engine, query, ["day", "model_id", "bucket", "count"])
    frame["day"] = as_days(frame["day"])
    return frame


def latency_buckets(engine: Engine, filters: UsageFilters) -> pd.DataFrame:
    """Latency bucket counts summed over every day and model (what the headline P50 and P95
    need): a few dozen rows, where `latency_histogram` returns one per day, model and bucket."""
    table = histogram_table(filters, LATENCY, LATENCY_DAILY)
    h = table.c
    query = sa_select(h.bucket, total(h["count"])).where(where(table, filters)).group_by(h.bucket)
    return run_frame(engine, query, ["bucket", "count"])


def latency_by_day(engine: Engine, filters: UsageFilters) -> pd.DataFrame:
    """P50 and P95 latency per day and model (`latency_percentiles`' columns): read from
    `latency_quantiles`, computed when the day's rows were stored, unless a project or status
    filter needs them computed from the histogram now."""
    if histogram_table(filters, LATENCY, LATENCY_DAILY) is LATENCY:
        return latency_percentiles(latency_histogram(engine, filters))
    q = QUANTILES.c
    query = (
        sa_select(type_coerce(q.day, String), q.model_id, q.requests, q.p50_ms, q.p95_ms)
        .where(where(QUANTILES, filters))
        .order_by(q.day, q.model_id)
    )
    frame = run_frame(engine, query, PERCENTILE_COLUMNS)
    frame["day"] = as_days(frame["day"])
    return frame


def latency_percentiles(histogram: pd.DataFrame) -> pd.DataFrame:
    """P50 and P95 latency per day and model from `latency_histogram`, by day and model."""
    if histogram.empty:
        return pd.DataFrame(columns=PERCENTILE_COLUMNS)
    groups = histogram[["day", "model_id"]].drop_duplicates().sort_values(["day", "model_id"])
    index = pd.MultiIndex.from_frame(groups)
    row = index.get_indexer(pd.MultiIndex.from_frame(histogram[["day", "model_id"]]))
    matrix = np.zeros((len(index), len(LATENCY_EDGES_MS)), dtype=np.float64)
    buckets = histogram["bucket"].to_numpy(np.int64)
    np.add.at(matrix, (row, buckets), histogram["count"].to_numpy(np.float64))
    frame = groups.reset_index(drop=True)
    frame["requests"] = matrix.sum(axis=1).astype(np.int64)
    for name, q in (("p50_ms", 0.50), ("p95_ms", 0.95)):
        frame[name] = percentiles(matrix, LATENCY_EDGES_MS, q)
    return frame[PERCENTILE_COLUMNS]


def retry_groups(rows: ColumnElement) -> Subquery:
    """The daily rollup `rows` in groups of one day, provider, model, project, feature and
    batch: spend on failed calls, calls that are retried, successful calls and their spend."""
    r = ROLLUP.c
    retryable = (r.status == RATE_LIMITED) | (r.status >= 500)
    ok = r.status < 400
    return (
        sa_select(
            *(r[name].label(name) for name in RETRY_KEY),
            total_if(r.status >= 400, r.cost_pusd).label("failed_pusd"),
            total_if(retryable, r.requests).label("retryable"),
            total_if(ok, r.requests).label("ok_requests"),
            total_if(ok, r.cost_pusd).label("ok_pusd"),
        )
        .where(rows)
        .group_by(r.day, r.provider, r.model_id, r.project, r.feature, r.batch)
        .subquery()
    )


def retry_estimate(groups: Subquery) -> list[ColumnElement]:
    """Failed spend, retries and retry spend summed over `retry_groups`: RETRY_DEFINITION."""
    g = groups.c
    retries = case((g.retryable < g.ok_requests, g.retryable), else_=g.ok_requests)
    avg_ok_pusd = case((g.ok_requests > 0, g.ok_pusd // g.ok_requests), else_=0)
    return [
        total(g.failed_pusd).label("failed_pusd"),
        total(retries).label("retries"),
        total(retries * avg_ok_pusd).label("retry_pusd"),
    ]


def cost_of_failure(engine: Engine, filters: UsageFilters) -> FailureCost:
    """Spend on failed calls (exact) and on their retries (estimate: see RETRY_DEFINITION).

    Filtered by period, project or model only (the page's default), the per-day figures come
    from `retry_daily`; a filter that splits the estimate's groups (status, key label, team,
    environment, tags) estimates from the daily rollup's rows that match it.
    """
    if rollup_for(filters, RETRY) is ROLLUP:
        groups = retry_groups(where(ROLLUP, filters))
        day = groups.c.day
        query = sa_select(day, *retry_estimate(groups)).group_by(day).order_by(day)
    else:
        t = RETRY.c
        query = (
            sa_select(t.day, total(t.failed_pusd), total(t.retries), total(t.retry_pusd))
            .where(where(RETRY, filters))
            .group_by(t.day)
            .order_by(t.day)
        )
    by_day = run_frame(engine, query, ["day", "failed_pusd", "retries", "retry_pusd"])
    table = usage_table(filters)
    r = table.c
    status_query = (
        sa_select(r.status, total(r.requests), total(r.cost_pusd))
        .where(and_(where(table, filters), r.status >= 400))
        .group_by(r.status)
        .order_by(r.status)
    )
    by_status = run_frame(engine, status_query, ["status", "requests", "cost_pusd"])
    return FailureCost(
        failed_usd=picos_to_usd(int(by_day["failed_pusd"].sum())),
        retries=int(by_day["retries"].sum()),
        retry_usd=picos_to_usd(int(by_day["retry_pusd"].sum())),
        by_day=by_day,
        by_status=by_status,
    )
