"""Usage -> exact cost. One scalar path in `Decimal`, one vectorised twin in integer pico-dollars.

OpenAI's convention throughout: `input_tokens` *includes* cached and cache-write tokens and
`output_tokens` *includes* reasoning tokens, so neither is ever added twice. Anthropic's
counts are normalised to this convention at the edge (see `core.logs`).

Rates carry at most six decimals (USD per million tokens), so `tokens * rate * 10**6` is an
integer number of pico-dollars (1e-12 USD): the vectorised path is exact, not rounded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from core.pricing import PriceBook, Rates, Unpriced

MILLION = Decimal(1_000_000)
PICOS_PER_USD = 10**12
RATE_SCALE = 10**6  # rates held as integer micro-dollars per million tokens


@dataclass(frozen=True)
class Usage:
    """Token counts of one request (or a sum of requests), OpenAI convention."""

    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def uncached_input_tokens(self) -> int:
        """Input tokens billed at the full input rate."""
        return self.input_tokens - self.cached_input_tokens - self.cache_write_tokens


@dataclass(frozen=True)
class CostBreakdown:
    """Exact USD cost of a usage, split by what was billed."""

    uncached_input_usd: Decimal
    cached_input_usd: Decimal
    cache_write_usd: Decimal
    output_usd: Decimal

    @property
    def input_usd(self) -> Decimal:
        """All input-side cost: uncached, cached and cache writes."""
        return self.uncached_input_usd + self.cached_input_usd + self.cache_write_usd

    @property
    def total_usd(self) -> Decimal:
        """Input plus output."""
        return self.input_usd + self.output_usd

    def __add__(self, other: CostBreakdown) -> CostBreakdown:
        return CostBreakdown(
            self.uncached_input_usd + other.uncached_input_usd,
            self.cached_input_usd + other.cached_input_usd,
            self.cache_write_usd + other.cache_write_usd,
            self.output_usd + other.output_usd,
        )

    def scaled(self, factor: Decimal | int) -> CostBreakdown:
        """This breakdown multiplied by a request count or a share."""
        factor = Decimal(factor)
        return CostBreakdown(
            self.uncached_input_usd * factor,
            self.cached_input_usd * factor,
            self.cache_write_usd * factor,
            self.output_usd * factor,
        )


ZERO = CostBreakdown(Decimal(0), Decimal(0), Decimal(0), Decimal(0))


def effective_rates(rates: Rates, input_tokens: int, *, batch: bool = False) -> Rates:
    """The rates a request of `input_tokens` pays: batch rates, or a long-context tier."""
    if batch:
        return rates.for_batch()
    for tier in reversed(rates.tiers):
        if input_tokens > tier.above_tokens:
            return replace(
                rates,
                input_mtok=tier.input_mtok,
                output_mtok=tier.output_mtok,
                cached_input_mtok=tier.cached_input_mtok,
                cache_write_mtok=tier.cache_write_mtok,
                batch_input_mtok=None,
                batch_output_mtok=None,
                batch_cached_input_mtok=None,
                tiers=(),
            )
    return rates


def cost(usage: Usage, rates: Rates, *, batch: bool = False) -> CostBreakdown:
    """Exact cost of `usage` at `rates` (batch rates when `batch`)."""
    r = effective_rates(rates, usage.input_tokens, batch=batch)
    cached_rate = r.cached_input_mtok if r.cached_input_mtok is not None else r.input_mtok
    write_rate = r.cache_write_mtok if r.cache_write_mtok is not None else r.input_mtok
    return CostBreakdown(
        uncached_input_usd=usage.uncached_input_tokens * r.input_mtok / MILLION,
        cached_input_usd=usage.cached_input_tokens * cached_rate / MILLION,
        cache_write_usd=usage.cache_write_tokens * write_rate / MILLION,
        output_usd=usage.output_tokens * r.output_mtok / MILLION,
    )


def price(
    usage: Usage,
    model: str,
    book: PriceBook,
    when: datetime | None = None,
    *,
    batch: bool = False,
    service_tier: str | None = None,
) -> CostBreakdown | Unpriced:
    """Look up `model` at `when` and price `usage`; `Unpriced` when the book cannot."""
    rates = book.price_at(model, when, service_tier=service_tier)
    if isinstance(rates, Unpriced):
        return rates
    return cost(usage, rates, batch=batch)


def to_micros(rate_mtok: Decimal | None) -> int:
    """A per-million rate as integer micro-dollars; refuses more than six decimals."""
    if rate_mtok is None:
        return -1
    scaled = rate_mtok * RATE_SCALE
    if scaled != scaled.to_integral_value():
        raise ValueError(f"rate {rate_mtok} has more than six decimals")
    return int(scaled)


def picos_to_usd(picos: int | np.integer) -> Decimal:
    """Integer pico-dollars to exact `Decimal` USD."""
    return Decimal(int(picos)) / PICOS_PER_USD


def usd_to_picos(usd: Decimal) -> int:
    """Exact `Decimal` USD to integer pico-dollars (exact for every cost this module makes)."""
    return int(usd * PICOS_PER_USD)


COST_PARTS = ("uncached_input_pusd", "cached_input_pusd", "cache_write_pusd", "output_pusd")
_RATE_COLS = ("r_in", "r_cached", "r_write", "r_out")
PRICED_TOKENS = ("input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens")


def _rate_row(rates: Rates) -> tuple[int, int, int, int]:
    r_in = to_micros(rates.input_mtok)
    r_cached = to_micros(rates.cached_input_mtok) if rates.cached_input_mtok is not None else r_in
    r_write = to_micros(rates.cache_write_mtok) if rates.cache_write_mtok is not None else r_in
    return r_in, r_cached, r_write, to_micros(rates.output_mtok)


def _rate_rows(book: PriceBook, keys: Iterable[tuple]) -> list[tuple]:
    """Rates for each distinct (model, day, service_tier, batch) key: one lookup per key."""
    rows = []
    for model, day, tier, batch in keys:
        when = day.date() if isinstance(day, datetime) else day  # a Timestamp from datetime64
        rates = book.price_at(model, when, service_tier=tier or None)
        if isinstance(rates, Unpriced):
            rows.append((-1, -1, -1, -1, 0, -1, -1, -1, -1, ""))
            continue
        plain = _rate_row(rates.for_batch() if batch else rates)
        tier_row = (0, -1, -1, -1, -1)
        if rates.tiers and not batch:
            top = rates.tiers[-1]
            tier_row = (top.above_tokens, *_rate_row(effective_rates(rates, top.above_tokens + 1)))
        rows.append((*plain, *tier_row, rates.version))
    return rows


PRICE_KEY = ["model", "day", "service_tier", "batch"]


def price_arrays(columns: Mapping[str, np.ndarray], book: PriceBook) -> dict[str, np.ndarray]:
    """Exact pico-dollar costs for events given as arrays, looking rates up once per key.

    `columns` needs: model, day (dates or datetime64), service_tier ("" for default), batch,
    input_tokens, cached_input_tokens, cache_write_tokens, output_tokens. Returns the four
    cost parts, `cost_pusd`, `cache_savings_pusd` (what the cached tokens would have cost at
    the full input rate, minus what they cost), `priced` and `price_version`. Unpriced rows get
    `priced=False` and zero costs; callers report them. `book` needs only `price_at`.
    """
    n = len(columns["model"])
    code = np.zeros(n, dtype=np.int64)
    for name in PRICE_KEY:
        codes, uniques = pd.factorize(np.asarray(columns[name]))
        if len(codes) and codes.min() < 0:  # a missing value is a key of its own
            codes, uniques = pd.factorize(np.asarray(columns[name]), use_na_sentinel=False)
        code = code * max(1, len(uniques)) + codes
    _, first, inverse = np.unique(code, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    keys = zip(*(_items(columns[name], first) for name in PRICE_KEY), strict=True)
    table = _rate_rows(book, keys)
    rates = np.array([r[:-1] for r in table], dtype=np.int64).reshape(len(table), 9)
    rate = {c: rates[inverse, i] for i, c in enumerate(_RATE_COLS)}
    tokens = {name: np.asarray(columns[name], dtype=np.int64) for name in PRICED_TOKENS}
    tier_above = rates[inverse, 4]
    use_tier = (tier_above > 0) & (tokens["input_tokens"] > tier_above)
    if use_tier.any():
        for i, c in enumerate(_RATE_COLS):
            rate[c] = np.where(use_tier, rates[inverse, 5 + i], rate[c])
    cached, write = tokens["cached_input_tokens"], tokens["cache_write_tokens"]
    priced = rate["r_in"] >= 0
    parts = {
        "uncached_input_pusd": (tokens["input_tokens"] - cached - write) * rate["r_in"],
        "cached_input_pusd": cached * rate["r_cached"],
        "cache_write_pusd": write * rate["r_write"],
        "output_pusd": tokens["output_tokens"] * rate["r_out"],
        "cache_savings_pusd": cached * (rate["r_in"] - rate["r_cached"]),
    }
    if not priced.all():
        parts = {name: np.where(priced, values, 0) for name, values in parts.items()}
    parts["cost_pusd"] = sum(parts[name] for name in COST_PARTS)
    parts["priced"] = priced
    parts["price_version"] = np.array([r[-1] for r in table], dtype=object)[inverse]
    return parts


def _items(values: Any, rows: np.ndarray) -> list:
    """Python values of `values` at `rows` (datetime64 days as dates)."""
    picked = np.asarray(values)[rows]
    if picked.dtype.kind == "M":
        return picked.astype("datetime64[D]").tolist()
    return picked.tolist()


def price_frame(df: pd.DataFrame, book: PriceBook) -> pd.DataFrame:
    """`price_arrays` for a frame of events: the frame with the cost columns added."""
    out = df.copy()
    for name, values in price_arrays({c: df[c].to_numpy() for c in df.columns}, book).items():
        out[name] = values
    return out
