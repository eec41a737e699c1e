"""Sensitivity of a plan: the tornado of cost drivers and the volume x output-tokens grid."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

from core.plans.workload import Workload, exact

DRIVERS = ("volume", "input_tokens", "output_tokens", "cache_hit_share", "batch_share", "price")
DRIVER_LABELS = {
    "volume": "Requests per day",
    "input_tokens": "Input tokens",
    "output_tokens": "Output tokens",
    "cache_hit_share": "Cache-hit share",
    "batch_share": "Batch share",
    "price": "Token prices",
}


@dataclass(frozen=True)
class TornadoBar:
    """Monthly cost when one driver moves to its low and its high value."""

    driver: str
    label: str
    low_value: Decimal
    high_value: Decimal
    low_usd: Decimal
    high_usd: Decimal
    base_usd: Decimal

    @property
    def spread_usd(self) -> Decimal:
        """How far apart the two ends are: the bar's length."""
        return abs(self.high_usd - self.low_usd)


def _scaled_tokens(tokens: int, factor: Decimal) -> int:
    """`tokens` x `factor`, rounded half up to a whole token."""
    return int((tokens * factor).to_integral_value(rounding=ROUND_HALF_UP))


def _clamp_share(value: Decimal) -> Decimal:
    """`value` held inside 0..1."""
    return min(Decimal(1), max(Decimal(0), value))


def driver_variants(w: Workload, swing: Decimal, share_swing: Decimal) -> list[Workload]:
    """Each driver but price at its low then its high value, in `DRIVERS` order."""
    lo, hi = 1 - swing, 1 + swing
    return [
        replace(w, requests_per_day=w.requests_per_day * lo),
        replace(w, requests_per_day=w.requests_per_day * hi),
        replace(w, input_tokens=_scaled_tokens(w.input_tokens, lo)),
        replace(w, input_tokens=_scaled_tokens(w.input_tokens, hi)),
        replace(w, output_tokens=_scaled_tokens(w.output_tokens, lo)),
        replace(w, output_tokens=_scaled_tokens(w.output_tokens, hi)),
        replace(w, cache_hit_share=_clamp_share(w.cache_hit_share - share_swing)),
        replace(w, cache_hit_share=_clamp_share(w.cache_hit_share + share_swing)),
        replace(w, batch_share=_clamp_share(w.batch_share - share_swing)),
        replace(w, batch_share=_clamp_share(w.batch_share + share_swing)),
    ]


def _driver_value(w: Workload, driver: str) -> Decimal:
    """The value a tornado bar shows for `driver` in workload `w`."""
    return {
        "volume": w.requests_per_day,
        "input_tokens": Decimal(w.input_tokens),
        "output_tokens": Decimal(w.billed_output_tokens),
        "cache_hit_share": w.cache_hit_share,
        "batch_share": w.batch_share,
    }[driver]


def tornado(
    workload: Workload,
    base_usd: Decimal,
    variant_usd: Sequence[Decimal],
    swing: Decimal,
    share_swing: Decimal,
) -> list[TornadoBar]:
    """Bars from the priced driver variants, widest first (`variant_usd` in driver order)."""
    variants = driver_variants(workload, swing, share_swing)
    bars = []
    for k, driver in enumerate(DRIVERS[:-1]):
        low, high = variants[2 * k], variants[2 * k + 1]
        bars.append(
            TornadoBar(
                driver,
                DRIVER_LABELS[driver],
                _driver_value(low, driver),
                _driver_value(high, driver),
                variant_usd[2 * k],
                variant_usd[2 * k + 1],
                base_usd,
            )
        )
    with exact():
        bars.append(
            TornadoBar(
                "price",
                DRIVER_LABELS["price"],
                1 - swing,
                1 + swing,
                base_usd * (1 - swing),
                base_usd * (1 + swing),
                base_usd,
            )
        )
    return sorted(bars, key=lambda b: b.spread_usd, reverse=True)


GRID_FACTORS = tuple(Decimal(f) for f in ("0.25", "0.5", "0.75", "1", "1.5", "2", "4"))


@dataclass(frozen=True)
class CostGrid:
    """Monthly cost over requests/day (rows) x output tokens (columns)."""

    requests_per_day: tuple[Decimal, ...]
    output_tokens: tuple[int, ...]
    monthly_usd: tuple[tuple[Decimal, ...], ...]

    def frame(self) -> pd.DataFrame:
        """The grid as a DataFrame (exact Decimal cells)."""
        return pd.DataFrame(
            [list(row) for row in self.monthly_usd],
            index=pd.Index(
                [f"{v.normalize():f}" for v in self.requests_per_day], name="requests/day"
            ),
            columns=pd.Index(list(self.output_tokens), name="output tokens"),
        )


def grid_variants(
    w: Workload, factors: Sequence[Decimal]
) -> tuple[list[Decimal], list[int], list[Workload]]:
    """The grid's volumes, output sizes and one workload per cell (row by row)."""
    volumes = [w.requests_per_day * f for f in factors]
    outputs = sorted({max(1, _scaled_tokens(w.output_tokens, f)) for f in factors})
    variants = [
        replace(w, requests_per_day=v, output_tokens=o, max_output_tokens=None)
        for v in volumes
        for o in outputs
    ]
    return volumes, outputs, variants


def cost_grid(
    volumes: Sequence[Decimal], outputs: Sequence[int], cells: Sequence[Decimal]
) -> CostGrid:
    """The grid from the priced cells of `grid_variants`, in the same order."""
    width = len(outputs)
    rows = tuple(tuple(cells[i * width : (i + 1) * width]) for i in range(len(volumes)))
    return CostGrid(tuple(volumes), tuple(outputs), rows)
