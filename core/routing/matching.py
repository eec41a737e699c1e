"""Which grouped-traffic rows a rule matches; the first matching rule takes a row.

A row whose token bucket straddles a rule's threshold is decided by its mean.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from core.identity import canonical
from core.pricing import PriceBook
from core.routing.rules import Rule


def _feature_mask(features: pd.Series, wanted: str) -> np.ndarray:
    """Rows whose feature is `wanted` or a comma-separated list of tags holding it."""
    lookup = {
        value: value == wanted or wanted in (t.strip() for t in str(value).split(","))
        for value in features.unique()
    }
    return features.map(lookup).to_numpy(bool)


def _range_mask(frame: pd.DataFrame, side: str, low: int | None, high: int | None) -> np.ndarray:
    """Rows whose `side` ("in" or "out") tokens lie in low..high; a straddling row by its mean."""
    low_col, high_col = frame[f"{side}_min"].to_numpy(), frame[f"{side}_max"].to_numpy()
    mean = frame[f"{side}_mean"].to_numpy()
    lo = -1 if low is None else low
    hi = np.iinfo(np.int64).max if high is None else high
    inside = (low_col >= lo) & (high_col <= hi)
    straddles = ~inside & (high_col >= lo) & (low_col <= hi)
    return inside | (straddles & (mean >= lo) & (mean <= hi))


def _status_mask(status: np.ndarray, wanted: str) -> np.ndarray:
    """Rows with an ok (< 400) or error (>= 400) status, or the one HTTP code `wanted`."""
    if wanted == "ok":
        return status < 400
    if wanted == "error":
        return status >= 400
    return status == int(wanted)


def match_mask(frame: pd.DataFrame, rule: Rule, book: PriceBook) -> np.ndarray:
    """Which rows of a prepared frame the rule matches (ignoring earlier rules)."""
    mask = np.ones(len(frame), bool)
    if rule.model:
        mask &= frame["canonical"].to_numpy() == canonical(book, rule.model)
    if rule.project:
        mask &= frame["project"].to_numpy() == rule.project
    if rule.feature:
        mask &= _feature_mask(frame["feature"], rule.feature)
    if rule.status:
        mask &= _status_mask(frame["status"].to_numpy(np.int64), rule.status)
    for side, low, high in (
        ("in", rule.min_input_tokens, rule.max_input_tokens),
        ("out", rule.min_output_tokens, rule.max_output_tokens),
    ):
        if low is not None or high is not None:
            mask &= _range_mask(frame, side, low, high)
    return mask


def assign_rules(frame: pd.DataFrame, rules: Sequence[Rule], book: PriceBook) -> np.ndarray:
    """Index of the first rule that matches each row, -1 where none does."""
    assigned = np.full(len(frame), -1, np.int64)
    for index, rule in enumerate(rules):
        free = assigned < 0
        assigned[free & match_mask(frame, rule, book)] = index
    return assigned
