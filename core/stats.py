"""Fixed-bucket histograms, so percentiles can be summed across days, models and projects.

Latency buckets grow by ~10 % per bucket (a P95 read from them is within 5 % of the exact
value); output-token buckets likewise. Bucket `i` holds values in [edges[i], edges[i+1]).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import numpy as np


def _geometric_edges(first: float, last: float, ratio: float) -> np.ndarray:
    edges = [0.0, first]
    while edges[-1] < last:
        edges.append(edges[-1] * ratio)
    return np.array(edges)


LATENCY_EDGES_MS = _geometric_edges(10.0, 600_000.0, 1.1)
OUTPUT_EDGES_TOKENS = _geometric_edges(1.0, 200_000.0, 1.1)


def bucket_index(values: np.ndarray | Sequence[float], edges: np.ndarray) -> np.ndarray:
    """The bucket of each value (values past the last edge go to the last bucket)."""
    idx = np.searchsorted(edges, np.asarray(values, dtype=float), side="right") - 1
    return np.clip(idx, 0, len(edges) - 1)


def percentiles(counts: np.ndarray, edges: np.ndarray, q: float) -> np.ndarray:
    """The q-quantile (0..1) of each row of a matrix of histogram counts (one histogram per
    row, buckets on `edges`), interpolated inside its bucket; NaN for an empty row. The one
    definition: `percentile` is its single-histogram case."""
    counts = np.atleast_2d(np.asarray(counts, dtype=float))
    if not counts.shape[1]:  # no buckets at all
        return np.full(len(counts), np.nan)
    edges = np.asarray(edges, dtype=float)
    rows = np.arange(len(counts))
    total = counts.sum(axis=1)
    target = q * total
    cumulative = np.cumsum(counts, axis=1)
    # the first bucket whose running count reaches the target (searchsorted, side "left")
    i = np.minimum((cumulative < target[:, None]).sum(axis=1), counts.shape[1] - 1)
    before = np.where(i > 0, cumulative[rows, np.maximum(i - 1, 0)], 0.0)
    low = edges[i]
    high = edges[np.minimum(i + 1, len(edges) - 1)]
    here = counts[rows, i]
    inside = np.divide(target - before, here, out=np.zeros_like(target), where=here != 0)
    return np.where(total > 0, low + (high - low) * inside, np.nan)


def percentile(counts: np.ndarray | Sequence[int], edges: np.ndarray, q: float) -> float | None:
    """The q-quantile (0..1) of a histogram, interpolated inside the bucket; None when empty."""
    value = percentiles(counts, edges, q)[0]
    return None if np.isnan(value) else float(value)


# Robust location and spread: one spike among many ordinary days moves neither.
MAD_SCALE = Decimal("1.4826")  # scaled MAD = a standard deviation for normal data


def median(values: Sequence[Decimal]) -> Decimal:
    """The middle value (the mean of the middle two for an even count); 0 when empty."""
    if not values:
        return Decimal(0)
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return Decimal(ordered[mid])
    return (Decimal(ordered[mid - 1]) + Decimal(ordered[mid])) / 2


def scaled_mad(values: Sequence[Decimal]) -> Decimal:
    """1.4826 x the median absolute deviation from the median: a spread outliers barely move."""
    center = median(values)
    return MAD_SCALE * median([abs(Decimal(v) - center) for v in values])
