"""Histogram percentiles: the matrix form (every row at once) against a line-by-line reference,
and hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.stats import LATENCY_EDGES_MS, percentile, percentiles
from db.migrations.m0023_small_rollups import _latency_edges
from db.migrations.m0023_small_rollups import _percentile as reference

EDGES = LATENCY_EDGES_MS
histograms = st.lists(
    st.lists(st.integers(0, 10**6), min_size=len(EDGES), max_size=len(EDGES)).map(
        lambda row: [0 if i % 7 else v for i, v in enumerate(row)]  # mostly empty buckets
    ),
    min_size=1,
    max_size=8,
)


def test_the_reference_edges_are_the_latency_edges() -> None:
    assert _latency_edges() == EDGES.tolist()


@settings(max_examples=200, deadline=None)
@given(rows=histograms, q=st.sampled_from([0.0, 0.5, 0.95, 0.99, 1.0]))
def test_every_row_equals_the_line_by_line_reference(rows: list[list[int]], q: float) -> None:
    got = percentiles(np.array(rows, dtype=float), EDGES, q)
    for row, value in zip(rows, got, strict=True):
        if sum(row) == 0:
            assert math.isnan(value)
            assert percentile(row, EDGES, q) is None
        else:
            expected = reference([float(c) for c in row], EDGES.tolist(), q)
            assert value == expected  # the same float, not merely close
            assert percentile(row, EDGES, q) == expected


def test_hand_computed_percentiles() -> None:
    counts = np.zeros(len(EDGES))
    counts[5], counts[6] = 40, 60  # 100 calls: 40 in bucket 5, 60 in bucket 6
    # P50: target 50, 40 before bucket 6, so 10 of its 60 into [edges[6], edges[7])
    assert percentile(counts, EDGES, 0.5) == pytest.approx(
        EDGES[6] + 10 / 60 * (EDGES[7] - EDGES[6])
    )
    # P20: 20 of bucket 5's 40
    assert percentile(counts, EDGES, 0.2) == pytest.approx(EDGES[5] + 0.5 * (EDGES[6] - EDGES[5]))
    assert percentile(np.zeros(len(EDGES)), EDGES, 0.5) is None


def test_no_buckets_at_all_is_no_percentile() -> None:
    assert percentile([], EDGES, 0.5) is None
