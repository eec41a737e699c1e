"""Usage dashboard queries: small aggregates over the daily rollups, never over raw rows.

Every function takes an engine and a `UsageFilters` and runs one SQL query grouped in SQL
(a handful of rows per day), so the Usage page stays fast at 10M+ stored requests. Money stays
in integer pico-dollars (`*_pusd`) in frames and exact `Decimal` USD in the small results.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Engine,
    Select,
    String,
    Table,
    and_,
    case,
    cast,
    func,
    true,
    type_coerce,
)
from sqlalchemy import select as sa_select

from core.costs import picos_to_usd
from core.stats import LATENCY_EDGES_MS, OUTPUT_EDGES_TOKENS, percentile
from db.models import DailyRollup, LatencyDaily, LatencyHistogram, OutputHistogram

ROLLUP: Table = DailyRollup.__table__  # type: ignore[assignment]
LATENCY: Table = LatencyHistogram.__table__  # type: ignore[assignment]
OUTPUT: Table = OutputHistogram.__table__  # type: ignore[assignment]
LATENCY_DAILY: Table = LatencyDaily.__table__  # type: ignore[assignment]

RATE_LIMITED = 429
# The suggested max_tokens: P99 of output tokens plus this headroom, rounded up to a multiple.
MAX_TOKENS_QUANTILE = 0.99
MAX_TOKENS_HEADROOM = 1.25
MAX_TOKENS_STEP = 64
RETRY_DEFINITION = (
    "Spent on failed calls: the priced tokens of every call with status 400 or above (exact). "
    "Retry spend (estimate): every 429 or 5xx call is taken to have been retried once, "
    "successfully; each retry is priced at the average successful call of the same day, model, "
    "project and feature, and a group never counts more retries than it had successful calls."
)


@dataclass(frozen=True)
class UsageFilters:
    """What the Usage page shows: an inclusive date range and optional value lists."""

    start: date | None = None
    end: date | None = None
    projects: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    statuses: tuple[int, ...] = ()


@dataclass(frozen=True)
class FilterValues:
    """The choices the filters offer: what the rollups hold."""

    first_day: date | None
    last_day: date | None
    projects: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """True when no request has been stored yet."""
        return self.last_day is None


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


@dataclass(frozen=True)
class MaxTokensAudit:
    """Output-token distribution, responses cut by the limit, and a suggested max_tokens."""

    histogram: pd.DataFrame  # bucket, low_tokens, high_tokens, count (responses with output)
    by_model: pd.DataFrame  # model, requests, truncated, truncated_share, p50/p99, suggested
    requests: int
    truncated: int
    zero_output: int  # responses with no output tokens (embeddings, failed calls): left out
    p99_output_tokens: float | None
    suggested_max_tokens: int | None

    @property
    def truncated_share(self) -> float | None:
        """Share of responses that stopped at the max_tokens limit."""
        return self.truncated / self.requests if self.requests else None


def _sum(column: ColumnElement) -> ColumnElement:
    """SUM as an exact integer on both backends (PostgreSQL's SUM(bigint) is NUMERIC)."""
    return cast(func.coalesce(func.sum(column), 0), BigInteger)


def _sum_if(condition: ColumnElement, column: ColumnElement | int) -> ColumnElement:
    """SUM of `column` over the rows matching `condition`."""
    return _sum(case((condition, column), else_=0))


def _where(
    table: Table,
    filters: UsageFilters,
    *,
    start: date | None = None,
    day: ColumnElement | None = None,
) -> ColumnElement:
    """The filters as one WHERE clause on a rollup or histogram table (`day` may be wrapped)."""
    start = start if start is not None else filters.start
    day = day if day is not None else table.c.day
    clauses: list[ColumnElement] = []
    if start is not None:
        clauses.append(day >= start)
    if filters.end is not None:
        clauses.append(day <= filters.end)
    if filters.projects:
        clauses.append(table.c.project.in_(filters.projects))
    if filters.models:
        clauses.append(table.c.model.in_(filters.models))
    if filters.statuses:
        clauses.append(table.c.status.in_([int(s) for s in filters.statuses]))
    return and_(true(), *clauses)


def _frame(engine: Engine, query: Select, columns: list[str]) -> pd.DataFrame:
    """Run `query` and return its rows as a frame with `columns`."""
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=columns)


def filter_values(engine: Engine) -> FilterValues:
    """Distinct projects, models and statuses, and the first and last day with data."""
    r = ROLLUP.c
    query = sa_select(r.project, r.model, r.status, func.min(r.day), func.max(r.day)).group_by(
        r.project, r.model, r.status
    )
    df = _frame(engine, query, ["project", "model", "status", "first", "last"])
    if df.empty:
        return FilterValues(first_day=None, last_day=None)
    return FilterValues(
        first_day=min(df["first"]),
        last_day=max(df["last"]),
        projects=sorted(set(df["project"])),
        models=sorted(set(df["model"])),
        statuses=sorted(int(s) for s in set(df["status"])),
    )


def _month_start(filters: UsageFilters) -> date | None:
    """The first day of the end date's month (the "month to date" of the KPIs)."""
    return filters.end.replace(day=1) if filters.end else None


def kpi_totals(engine: Engine, filters: UsageFilters) -> list[int]:
    """One row of sums: the filtered range, plus spend from the month start to the end date."""
    r = ROLLUP.c
    month_start = _month_start(filters)
    lower = filters.start
    if month_start is not None and (lower is None or month_start < lower):
        lower = month_start
    in_range = r.day >= filters.start if filters.start is not None else true()
    in_month = r.day >= month_start if month_start is not None else true()
    query = sa_select(
        *(_sum_if(in_range, r[name]) for name in KPI_SUMS),
        _sum_if(in_month, r.cost_pusd),
        _sum_if(and_(in_range, r.status >= 400), r.requests),
        _sum_if(and_(in_range, r.status == RATE_LIMITED), r.requests),
    ).where(_where(ROLLUP, filters, start=lower))
    with engine.connect() as conn:
        return [int(v) for v in conn.execute(query).one()]


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


def assemble_kpis(
    totals: list[int], filters: UsageFilters, latency: pd.DataFrame | None
) -> UsageKpis:
    """KPIs from `kpi_totals` and the latency histogram frame (for P50 and P95)."""
    sums = dict(zip(KPI_SUMS, totals, strict=False))
    month_to_date_pusd, errors, rate_limited = totals[len(KPI_SUMS) :]
    counts = _bucket_totals(latency)
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


DAILY_COLUMNS = [
    "day",
    "model",
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


def daily_by_model(engine: Engine, filters: UsageFilters) -> pd.DataFrame:
    """One row per day and model: requests, errors, 429s, tokens, cost, caching savings."""
    r = ROLLUP.c
    query = (
        sa_select(
            r.day,
            r.model,
            _sum(r.requests),
            _sum(r.unpriced_requests),
            _sum_if(r.status >= 400, r.requests),
            _sum_if(r.status == RATE_LIMITED, r.requests),
            _sum(r.input_tokens),
            _sum(r.cached_input_tokens),
            _sum(r.cache_write_tokens),
            _sum(r.output_tokens),
            _sum(r.cost_pusd),
            _sum(r.cache_savings_pusd),
            _sum(r.truncated),
        )
        .where(_where(ROLLUP, filters))
        .group_by(r.day, r.model)
        .order_by(r.day, r.model)
    )
    return _frame(engine, query, DAILY_COLUMNS)


def daily_totals(daily: pd.DataFrame) -> pd.DataFrame:
    """Per-day totals of `daily_by_model`, with uncached input tokens and the error share."""
    totals = daily.drop(columns="model").groupby("day", as_index=False, sort=True).sum()
    totals["uncached_input_tokens"] = (
        totals["input_tokens"] - totals["cached_input_tokens"] - totals["cache_write_tokens"]
    )
    totals["error_share"] = totals["errors"] / totals["requests"].where(totals["requests"] > 0)
    return totals


def unpriced_models(daily: pd.DataFrame) -> dict[str, int]:
    """Models with requests the price book could not price, and how many."""
    counts = daily.groupby("model")["unpriced_requests"].sum()
    return {str(m): int(n) for m, n in counts.items() if n > 0}


def by_project_feature(engine: Engine, filters: UsageFilters) -> pd.DataFrame:
    """Cost and requests per project and feature, most expensive first."""
    r = ROLLUP.c
    query = (
        sa_select(
            r.project,
            r.feature,
            _sum(r.requests),
            _sum(r.unpriced_requests),
            _sum(r.cost_pusd),
        )
        .where(_where(ROLLUP, filters))
        .group_by(r.project, r.feature)
    )
    df = _frame(engine, query, ["project", "feature", "requests", "unpriced_requests", "cost_pusd"])
    return df.sort_values(["cost_pusd", "project", "feature"], ascending=[False, True, True])


def latency_histogram(engine: Engine, filters: UsageFilters) -> pd.DataFrame:
    """Latency bucket counts per day and model (the input of every latency percentile).

    Without a project or status filter it reads the (day, model) histogram, ~30x fewer rows.
    """
    table = LATENCY if filters.projects or filters.statuses else LATENCY_DAILY
    h = table.c
    # The day comes back raw (no per-row date parsing: ~30k rows at 90 days) and is converted
    # once per distinct day.
    query = (
        sa_select(type_coerce(h.day, String), h.model, h.bucket, _sum(h["count"]))
        .where(_where(table, filters))
        .group_by(h.day, h.model, h.bucket)
    )
    frame = _frame(engine, query, ["day", "model", "bucket", "count"])
    frame["day"] = _as_days(frame["day"])
    return frame


def _as_days(values: pd.Series) -> pd.Series:
    """Dates from a column of dates or ISO date strings (parsed once per distinct value)."""
    codes, uniques = pd.factorize(values)
    days = [d if isinstance(d, date) else date.fromisoformat(str(d)[:10]) for d in uniques]
    return pd.Series(np.array(days, dtype=object)[codes], index=values.index, dtype=object)


def _bucket_totals(histogram: pd.DataFrame | None) -> np.ndarray:
    """Counts per bucket index, summed over every row of a histogram frame."""
    if histogram is None or histogram.empty:
        return np.zeros(0, dtype=np.int64)
    return np.bincount(
        histogram["bucket"].to_numpy(np.int64), weights=histogram["count"].to_numpy(np.float64)
    )


def latency_percentiles(histogram: pd.DataFrame) -> pd.DataFrame:
    """P50 and P95 latency per day and model from `latency_histogram`."""
    columns = ["day", "model", "requests", "p50_ms", "p95_ms"]
    if histogram.empty:
        return pd.DataFrame(columns=columns)
    groups = histogram[["day", "model"]].drop_duplicates().sort_values(["day", "model"])
    index = pd.MultiIndex.from_frame(groups)
    row = index.get_indexer(pd.MultiIndex.from_frame(histogram[["day", "model"]]))
    matrix = np.zeros((len(index), len(LATENCY_EDGES_MS)), dtype=np.float64)
    buckets = histogram["bucket"].to_numpy(np.int64)
    np.add.at(matrix, (row, buckets), histogram["count"].to_numpy(np.float64))
    rows = [
        (
            day,
            model,
            int(counts.sum()),
            percentile(counts, LATENCY_EDGES_MS, 0.50),
            percentile(counts, LATENCY_EDGES_MS, 0.95),
        )
        for (day, model), counts in zip(index, matrix, strict=True)
    ]
    return pd.DataFrame(rows, columns=columns)


def _retry_groups(filters: UsageFilters) -> Select:
    """Per day/provider/model/project/feature/batch group: failed spend and estimated retries."""
    r = ROLLUP.c
    retryable = (r.status == RATE_LIMITED) | (r.status >= 500)
    ok = r.status < 400
    return (
        sa_select(
            r.day.label("day"),
            _sum_if(r.status >= 400, r.cost_pusd).label("failed_pusd"),
            _sum_if(retryable, r.requests).label("retryable"),
            _sum_if(ok, r.requests).label("ok_requests"),
            _sum_if(ok, r.cost_pusd).label("ok_pusd"),
        )
        .where(_where(ROLLUP, filters))
        .group_by(r.day, r.provider, r.model, r.project, r.feature, r.batch)
        .subquery()
    )


def cost_of_failure(engine: Engine, filters: UsageFilters) -> FailureCost:
    """Spend on failed calls (exact) and on their retries (estimate: see RETRY_DEFINITION)."""
    g = _retry_groups(filters).c
    retries = case((g.retryable < g.ok_requests, g.retryable), else_=g.ok_requests)
    avg_ok_pusd = case((g.ok_requests > 0, g.ok_pusd // g.ok_requests), else_=0)
    query = (
        sa_select(g.day, _sum(g.failed_pusd), _sum(retries), _sum(retries * avg_ok_pusd))
        .group_by(g.day)
        .order_by(g.day)
    )
    by_day = _frame(engine, query, ["day", "failed_pusd", "retries", "retry_pusd"])
    r = ROLLUP.c
    status_query = (
        sa_select(r.status, _sum(r.requests), _sum(r.cost_pusd))
        .where(and_(_where(ROLLUP, filters), r.status >= 400))
        .group_by(r.status)
        .order_by(r.status)
    )
    by_status = _frame(engine, status_query, ["status", "requests", "cost_pusd"])
    return FailureCost(
        failed_usd=picos_to_usd(int(by_day["failed_pusd"].sum())),
        retries=int(by_day["retries"].sum()),
        retry_usd=picos_to_usd(int(by_day["retry_pusd"].sum())),
        by_day=by_day,
        by_status=by_status,
    )


def suggest_max_tokens(p99_tokens: float | None) -> int | None:
    """P99 output tokens plus headroom, rounded up to a multiple of MAX_TOKENS_STEP."""
    if p99_tokens is None:
        return None
    padded = p99_tokens * MAX_TOKENS_HEADROOM
    return max(MAX_TOKENS_STEP, math.ceil(padded / MAX_TOKENS_STEP) * MAX_TOKENS_STEP)


def _histogram_frame(counts: np.ndarray, edges: np.ndarray) -> pd.DataFrame:
    """Non-empty buckets with their token ranges."""
    buckets = np.flatnonzero(counts)
    high = [float(edges[i + 1]) if i + 1 < len(edges) else float(edges[i]) for i in buckets]
    return pd.DataFrame(
        {
            "bucket": buckets.astype(np.int64),
            "low_tokens": edges[buckets].astype(float),
            "high_tokens": high,
            "count": counts[buckets].astype(np.int64),
        }
    )


def max_tokens_audit(engine: Engine, filters: UsageFilters, daily: pd.DataFrame) -> MaxTokensAudit:
    """Output-token histogram, truncation share and suggested max_tokens, overall and per model.

    `daily` is the frame of `daily_by_model` for the same filters (requests, truncated).
    """
    return assemble_audit(output_histogram(engine, filters), daily)


def output_histogram(engine: Engine, filters: UsageFilters) -> pd.DataFrame:
    """Output-token bucket counts per model."""
    h = OUTPUT.c
    query = (
        sa_select(h.model, h.bucket, _sum(h["count"]))
        .where(_where(OUTPUT, filters))
        .group_by(h.model, h.bucket)
    )
    return _frame(engine, query, ["model", "bucket", "count"])


def assemble_audit(hist: pd.DataFrame, daily: pd.DataFrame) -> MaxTokensAudit:
    """The max_tokens audit from `output_histogram` and `daily_by_model` frames.

    Percentiles count only responses with output: bucket 0 (no output tokens: embeddings,
    failed calls) says nothing about a max_tokens limit.
    """
    zero_output = int(hist.loc[hist["bucket"] == 0, "count"].sum()) if not hist.empty else 0
    hist = hist[hist["bucket"] > 0]
    counts = _bucket_totals(hist)
    per_model = daily.groupby("model")[["requests", "truncated"]].sum()
    rows = []
    for model, group in hist.groupby("model", sort=True):
        model_counts = _bucket_totals(group)
        p99 = percentile(model_counts, OUTPUT_EDGES_TOKENS, MAX_TOKENS_QUANTILE)
        requests = int(per_model["requests"].get(model, 0))
        truncated = int(per_model["truncated"].get(model, 0))
        rows.append(
            (
                model,
                requests,
                truncated,
                truncated / requests if requests else None,
                percentile(model_counts, OUTPUT_EDGES_TOKENS, 0.5),
                p99,
                suggest_max_tokens(p99),
            )
        )
    columns = ["model", "requests", "truncated", "truncated_share", "p50_tokens", "p99_tokens"]
    p99_all = percentile(counts, OUTPUT_EDGES_TOKENS, MAX_TOKENS_QUANTILE)
    return MaxTokensAudit(
        histogram=_histogram_frame(counts, OUTPUT_EDGES_TOKENS),
        by_model=pd.DataFrame(rows, columns=[*columns, "suggested_max_tokens"]),
        requests=int(daily["requests"].sum()),
        truncated=int(daily["truncated"].sum()),
        zero_output=zero_output,
        p99_output_tokens=p99_all,
        suggested_max_tokens=suggest_max_tokens(p99_all),
    )


@dataclass(frozen=True)
class UsageReport:
    """Everything the Usage page shows for one set of filters."""

    filters: UsageFilters
    kpis: UsageKpis
    daily: pd.DataFrame
    totals: pd.DataFrame
    latency: pd.DataFrame
    by_project: pd.DataFrame
    failure: FailureCost
    audit: MaxTokensAudit
    unpriced: dict[str, int]


def usage_report(engine: Engine, filters: UsageFilters) -> UsageReport:
    """Run every Usage page aggregate for `filters`: seven rollup queries, run concurrently."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        histogram = pool.submit(latency_histogram, engine, filters)
        output = pool.submit(output_histogram, engine, filters)
        daily_job = pool.submit(daily_by_model, engine, filters)
        totals = pool.submit(kpi_totals, engine, filters)
        by_project = pool.submit(by_project_feature, engine, filters)
        failure = pool.submit(cost_of_failure, engine, filters)
        daily = daily_job.result()
        return UsageReport(
            filters=filters,
            kpis=assemble_kpis(totals.result(), filters, histogram.result()),
            daily=daily,
            totals=daily_totals(daily),
            latency=latency_percentiles(histogram.result()),
            by_project=by_project.result(),
            failure=failure.result(),
            audit=assemble_audit(output.result(), daily),
            unpriced=unpriced_models(daily),
        )
