"""Grouped traffic priced by `core.costs.price_usage`, the kernel that prices stored events.

Cost is linear in token sums, so a group is priced from its sums in exact integer
pico-dollars. Long-context tiers are chosen per group from the mean input tokens per request
and handed to the kernel as its `tier_input`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.costs import PRICED_TOKENS, price_usage, rate_arrays
from core.pricing import Rates
from core.routing.traffic import TOKEN_COLUMNS


def tier_index(rates: Rates, mean_input: np.ndarray) -> np.ndarray:
    """How many long-context tier edges each row's mean prompt is above (0 = base rates)."""
    index = np.zeros(len(mean_input), np.int64)
    for tier in rates.tiers:
        index += mean_input > tier.above_tokens
    return index


def own_tiers(frame: pd.DataFrame, rates: dict[str, Rates]) -> np.ndarray:
    """Each row's tier index on its own model, from the row's mean prompt."""
    tiers = np.zeros(len(frame), np.int64)
    for model, model_rates in rates.items():
        rows = (frame["model"] == model).to_numpy()
        tiers[rows] = tier_index(model_rates, frame.loc[rows, "in_mean"].to_numpy())
    return tiers


def _tier_inputs(rates: dict[str, Rates], codes: np.ndarray, tiers: np.ndarray) -> np.ndarray:
    """An input count that selects each tier index on each model: one token above its edge."""
    names = list(rates)
    width = 1 + max((len(rates[n].tiers) for n in names), default=0)
    edges = np.zeros((len(names), width), np.int64)  # tier 0: base rates
    for i, name in enumerate(names):
        for k, tier in enumerate(rates[name].tiers, 1):
            edges[i, k] = tier.above_tokens + 1
    return edges[codes, tiers]


def price_groups(
    usage: dict[str, np.ndarray],
    models: np.ndarray,
    rates: dict[str, Rates],
    tiers: np.ndarray,
    batch: np.ndarray,
) -> np.ndarray:
    """Exact pico-dollar cost of each summed usage on its model at its tier, real time or batch."""
    names = list(rates)
    table = rate_arrays([*(rates[n] for n in names), *(rates[n].for_batch() for n in names)])
    position = {name: i for i, name in enumerate(names)}
    codes = np.array([position[m] for m in models], dtype=np.int64)
    index = codes + len(names) * batch.astype(np.int64)
    tier_input = _tier_inputs(rates, codes, tiers)
    return price_usage(usage, table, tier_input=tier_input, index=index)["cost_pusd"]


def usage_columns(cached_column: str = "cached_input_tokens") -> dict[str, str]:
    """Which traffic column holds each kernel count."""
    columns = dict(zip(PRICED_TOKENS, TOKEN_COLUMNS, strict=True))
    return columns | {"cached_input_tokens": cached_column}


def usage_arrays(frame: pd.DataFrame, cached_column: str) -> dict[str, np.ndarray]:
    """Token sums of each row as kernel usage arrays, cached tokens from `cached_column`."""
    return {name: frame[c].to_numpy() for name, c in usage_columns(cached_column).items()}
