"""The max_tokens audit: output-token distribution, responses cut by the limit, a suggestion."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine
from sqlalchemy import select as sa_select

from core.stats import OUTPUT_EDGES_TOKENS, percentile
from db.queries.common import (
    OUTPUT,
    OUTPUT_DAILY,
    UsageFilters,
    bucket_totals,
    histogram_table,
    run_frame,
    total,
    where,
)

# The suggested max_tokens: P99 of output tokens plus this headroom, rounded up to a multiple.
MAX_TOKENS_QUANTILE = 0.99
MAX_TOKENS_HEADROOM = 1.25
MAX_TOKENS_STEP = 64
BY_MODEL_COLUMNS = [
    "model_id",
    "requests",
    "truncated",
    "truncated_share",
    "p50_tokens",
    "p99_tokens",
    "suggested_max_tokens",
]


@dataclass(frozen=True)
class MaxTokensAudit:
    """Output-token distribution, responses cut by the limit, and a suggested max_tokens."""

    histogram: pd.DataFrame  # bucket, low_tokens, high_tokens, count (responses with output)
    by_model: pd.DataFrame  # model_id, requests, truncated, truncated_share, p50/p99, suggested
    requests: int
    truncated: int
    zero_output: int  # responses with no output tokens (embeddings, failed calls): left out
    p99_output_tokens: float | None
    suggested_max_tokens: int | None

    @property
    def truncated_share(self) -> float | None:
        """Share of responses that stopped at the max_tokens limit."""
        return self.truncated / self.requests if self.requests else None


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


def output_histogram(engine: Engine, filters: UsageFilters) -> pd.DataFrame:
    """Output-token bucket counts per model (canonical id). Without a project or status filter
    it reads the (day, model_id) histogram: only the period's days, ~7x fewer rows."""
    table = histogram_table(filters, OUTPUT, OUTPUT_DAILY)
    h = table.c
    query = (
        sa_select(h.model_id, h.bucket, total(h["count"]))
        .where(where(table, filters))
        .group_by(h.model_id, h.bucket)
    )
    return run_frame(engine, query, ["model_id", "bucket", "count"])


def _model_row(model_id: str, counts: np.ndarray, requests: int, truncated: int) -> tuple:
    """One model's audit row from its output-token bucket counts."""
    p99 = percentile(counts, OUTPUT_EDGES_TOKENS, MAX_TOKENS_QUANTILE)
    return (
        model_id,
        requests,
        truncated,
        truncated / requests if requests else None,
        percentile(counts, OUTPUT_EDGES_TOKENS, 0.5),
        p99,
        suggest_max_tokens(p99),
    )


def assemble_audit(hist: pd.DataFrame, daily: pd.DataFrame) -> MaxTokensAudit:
    """The max_tokens audit from `output_histogram` and `daily_by_model` frames.

    Percentiles count only responses with output: bucket 0 (no output tokens: embeddings,
    failed calls) says nothing about a max_tokens limit.
    """
    zero_output = int(hist.loc[hist["bucket"] == 0, "count"].sum()) if not hist.empty else 0
    hist = hist[hist["bucket"] > 0]
    per_model = daily.groupby("model_id")[["requests", "truncated"]].sum()
    rows = [
        _model_row(
            model_id,
            bucket_totals(group),
            int(per_model["requests"].get(model_id, 0)),
            int(per_model["truncated"].get(model_id, 0)),
        )
        for model_id, group in hist.groupby("model_id", sort=True)
    ]
    p99_all = percentile(bucket_totals(hist), OUTPUT_EDGES_TOKENS, MAX_TOKENS_QUANTILE)
    return MaxTokensAudit(
        histogram=_histogram_frame(bucket_totals(hist), OUTPUT_EDGES_TOKENS),
        by_model=pd.DataFrame(rows, columns=BY_MODEL_COLUMNS),
        requests=int(daily["requests"].sum()),
        truncated=int(daily["truncated"].sum()),
        zero_output=zero_output,
        p99_output_tokens=p99_all,
        suggested_max_tokens=suggest_max_tokens(p99_all),
    )


def max_tokens_audit(engine: Engine, filters: UsageFilters, daily: pd.DataFrame) -> MaxTokensAudit:
    """Output-token histogram, truncation share and suggested max_tokens, overall and per model.

    `daily` is the frame of `daily_by_model` for the same filters (requests, truncated).
    """
    return assemble_audit(output_histogram(engine, filters), daily)
