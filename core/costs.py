"""Usage -> exact cost: one `Decimal` definition and one integer array kernel held to it.

OpenAI's convention throughout: `input_tokens` *includes* cached and cache-write tokens and
`output_tokens` *includes* reasoning tokens, so neither is ever added twice. Anthropic's
counts are normalised to this convention at the edge (see `core.logs`).

`cost` is the definition, in exact `Decimal`. `cost_kernel` is the only vectorised form: rates
are integer micro-dollars per million tokens (rates carry at most six decimals), so
`tokens * rate` is an exact integer number of pico-dollars (1e-12 USD). The kernel is plain array
arithmetic and `np.where`, so the same code runs on int64 arrays (fast) and on object arrays of
Python ints (exact at any size); `price_usage` picks int64 only when `fits_int64` proves it safe.

Bounds. One request carries at most `MAX_TOKENS` (1e8, about 10x the largest context window)
tokens of each kind and no rate exceeds `MAX_RATE_MTOK` ($10,000 per 1M tokens, about 17x
o1-pro's $600), i.e. 1e10 micro-dollars. One part then costs at most 1e8 x 1e10 = 1e18
pico-dollars, and a row's total (input side + output side) at most 2e18 < 2**63 ~ 9.22e18, so
every stored per-request cost fits a BIGINT. `fits_int64` is stricter: it allows for counts that
break the convention (cached + write > input makes the uncached count up to 3x a count), so
any value the kernel forms stays within 6 x count x rate, and still accepts the bounds above
(6e18 < 9.22e18).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from decimal import Decimal, getcontext, localcontext
from typing import Any

import numpy as np
import pandas as pd

from core.pricing import PriceBook, Rates, Unpriced

MILLION = Decimal(1_000_000)
PICOS_PER_USD = 10**12
RATE_SCALE = 10**6  # rates held as integer micro-dollars per million tokens
MAX_TOKENS = 100_000_000  # the largest count of one kind that one request may carry
MAX_RATE_MTOK = Decimal(10_000)  # USD per million tokens
MAX_RATE_MICROS = int(MAX_RATE_MTOK * RATE_SCALE)
INT64_LIMIT = 2**63
# Worst case of any value the kernel forms, in units of count x rate: an uncached count of up to
# 3 counts times a rate, plus three more parts of one product each.
_KERNEL_PRODUCTS = 6


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
    """Exact cost of `usage` at `rates` (batch rates when `batch`): the definition."""
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
    """Integer pico-dollars to exact `Decimal` USD, however many digits they have."""
    value = int(picos)
    digits = len(str(abs(value)))
    if digits <= getcontext().prec:
        return Decimal(value) / PICOS_PER_USD
    with localcontext(prec=digits):
        return Decimal(value) / PICOS_PER_USD


def usd_to_picos(usd: Decimal) -> int:
    """Exact `Decimal` USD to integer pico-dollars (exact for every cost this module makes)."""
    return int(usd * PICOS_PER_USD)


# --- bounds ---------------------------------------------------------------------------------


def fits_int64(max_tokens: int, max_rate_micros: int) -> bool:
    """Whether every value the kernel forms from counts and rates within these bounds fits int64."""
    # A rate of at least 1 keeps the counts themselves (and the uncached count) in range too.
    return _KERNEL_PRODUCTS * abs(max_tokens) * max(abs(max_rate_micros), 1) < INT64_LIMIT


def kernel_dtype(max_tokens: int, max_rate_micros: int) -> np.dtype:
    """int64 when `fits_int64` proves it safe, else object (exact Python ints)."""
    return np.dtype(np.int64) if fits_int64(max_tokens, max_rate_micros) else np.dtype(object)


_RATE_FIELDS = (
    "input_mtok",
    "output_mtok",
    "cached_input_mtok",
    "cache_write_mtok",
    "batch_input_mtok",
    "batch_output_mtok",
    "batch_cached_input_mtok",
)


def rate_values(rates: Rates) -> list[tuple[str, Decimal]]:
    """Every rate of `rates` (base, batch and long-context tiers) by name; unset ones left out."""
    found = [(name, getattr(rates, name)) for name in _RATE_FIELDS]
    for number, tier in enumerate(rates.tiers, 1):
        found += [
            (f"tier {number} {f.name}", getattr(tier, f.name))
            for f in fields(tier)
            if f.name != "above_tokens"
        ]
    return [(name, value) for name, value in found if value is not None]


def check_rates(rates: Rates) -> None:
    """Raise `ValueError` unless every rate is within 0..MAX_RATE_MTOK with at most six decimals."""
    for name, value in rate_values(rates):
        if not 0 <= value <= MAX_RATE_MTOK:
            raise ValueError(f"{name} {value} is outside 0 to {MAX_RATE_MTOK} USD per 1M tokens")
        if value * RATE_SCALE != (value * RATE_SCALE).to_integral_value():
            raise ValueError(f"{name} {value} has more than six decimals")


def max_count(arrays: Iterable[np.ndarray]) -> int:
    """The largest magnitude in some integer arrays (0 when they are empty), as a Python int."""
    top = 0
    for values in arrays:
        if np.size(values):
            top = max(top, int(np.max(values)), -int(np.min(values)))
    return top


# --- the kernel -----------------------------------------------------------------------------

PRICED_TOKENS = ("input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens")
COST_PARTS = ("uncached_input_pusd", "cached_input_pusd", "cache_write_pusd", "output_pusd")
_NEVER = -1  # the edge of a padding tier slot: every count is above it


@dataclass(frozen=True)
class TierArrays:
    """One long-context tier slot: its edge and the rates (micro-dollars) that apply above it."""

    above_tokens: np.ndarray
    micros: tuple[np.ndarray, ...]  # input, cached input, cache write, output


@dataclass(frozen=True)
class RateArrays:
    """Rates as integer micro-dollars per 1M tokens, broadcastable against usage arrays.

    `micros` holds the input, cached-input, cache-write and output rates (an unset cached or
    write rate is the input rate). `tiers` holds long-context tier slots in ascending order; a
    model with fewer tiers than the widest is padded in front with slots that always apply and
    repeat its base rates, so a later slot (a higher tier) still wins.
    """

    micros: tuple[np.ndarray, ...]
    tiers: tuple[TierArrays, ...] = ()

    def map(self, fn: Any) -> RateArrays:
        """The same rates with `fn` applied to every array (gather, reshape, cast)."""
        return RateArrays(
            tuple(fn(a) for a in self.micros),
            tuple(
                TierArrays(fn(t.above_tokens), tuple(fn(a) for a in t.micros)) for t in self.tiers
            ),
        )

    def take(self, index: np.ndarray) -> RateArrays:
        """The rates at `index` (one row per usage row)."""
        return self.map(lambda a: a[index])

    def astype(self, dtype: np.dtype) -> RateArrays:
        """The rates as `dtype` (int64 or object)."""
        return self.map(lambda a: a.astype(dtype, copy=False))

    def max_micros(self) -> int:
        """The largest rate magnitude, as a Python int (edges are not rates)."""
        return max_count([*self.micros, *(a for t in self.tiers for a in t.micros)])


def rate_row(rates: Rates) -> tuple[int, int, int, int]:
    """Input, cached-input, cache-write and output rates in micro-dollars (unset -> input)."""
    r_in = to_micros(rates.input_mtok)
    r_cached = to_micros(rates.cached_input_mtok) if rates.cached_input_mtok is not None else r_in
    r_write = to_micros(rates.cache_write_mtok) if rates.cache_write_mtok is not None else r_in
    return r_in, r_cached, r_write, to_micros(rates.output_mtok)


def tier_rows(rates: Rates) -> list[tuple[int, int, int, int, int]]:
    """(above_tokens, input, cached, write, output) per long-context tier, as `cost` applies it."""
    return [
        (tier.above_tokens, *rate_row(effective_rates(rates, tier.above_tokens + 1)))
        for tier in rates.tiers
    ]


def rate_arrays(items: Sequence[Rates | None]) -> RateArrays:
    """One row of rates per item (already resolved for batch); None (unpriced) prices at zero."""
    rows = [(rate_row(r), tier_rows(r)) if r is not None else ((0, 0, 0, 0), []) for r in items]
    slots = max((len(tiers) for _, tiers in rows), default=0)
    base = np.array([b for b, _ in rows], dtype=np.int64).reshape(len(rows), 4)
    padded = [[(_NEVER, *b)] * (slots - len(tiers)) + tiers for b, tiers in rows]
    tiers = np.array(padded, dtype=np.int64).reshape(len(rows), slots, 5)
    return RateArrays(
        tuple(base[:, i] for i in range(4)),
        tuple(
            TierArrays(tiers[:, s, 0], tuple(tiers[:, s, 1 + i] for i in range(4)))
            for s in range(slots)
        ),
    )


def cost_kernel(
    usage: Mapping[str, np.ndarray], rates: RateArrays, *, tier_input: Any = None
) -> dict[str, np.ndarray]:
    """Cost parts of usage arrays at rate arrays: counts x micro-dollar rates = pico-dollars.

    `usage` holds `PRICED_TOKENS`; `tier_input` is the input count that selects the long-context
    tier (the input tokens by default). Pure array arithmetic: int64 in, int64 out; object
    arrays of Python ints in, exact Python ints out. Arrays broadcast (variants x models).
    """
    inp, cached, write, out = (usage[name] for name in PRICED_TOKENS)
    selector = inp if tier_input is None else tier_input
    r_in, r_cached, r_write, r_out = rates.micros
    for tier in rates.tiers:  # a later slot is a higher edge: the highest tier exceeded wins
        above = selector > tier.above_tokens
        t_in, t_cached, t_write, t_out = tier.micros
        r_in = np.where(above, t_in, r_in)
        r_cached = np.where(above, t_cached, r_cached)
        r_write = np.where(above, t_write, r_write)
        r_out = np.where(above, t_out, r_out)
    parts = {
        "uncached_input_pusd": (inp - cached - write) * r_in,
        "cached_input_pusd": cached * r_cached,
        "cache_write_pusd": write * r_write,
        "output_pusd": out * r_out,
        "cache_savings_pusd": cached * (r_in - r_cached),
    }
    parts["cost_pusd"] = (
        parts["uncached_input_pusd"]
        + parts["cached_input_pusd"]
        + parts["cache_write_pusd"]
        + parts["output_pusd"]
    )
    return parts


def price_usage(
    usage: Mapping[str, Any],
    rates: RateArrays,
    *,
    tier_input: Any = None,
    index: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """`cost_kernel` in int64 when `fits_int64` proves it safe, else in exact Python ints.

    With `index`, `rates` holds one row per key and `index` maps each usage row to its key, so
    the bound is taken over the few keys, not the many rows.
    """
    counts = {name: _counts(usage[name]) for name in PRICED_TOKENS}
    dtype = kernel_dtype(max_count(counts.values()), rates.max_micros())
    rates = rates.astype(dtype)
    if index is not None:
        rates = rates.take(index)
    typed = {name: values.astype(dtype, copy=False) for name, values in counts.items()}
    return cost_kernel(typed, rates, tier_input=tier_input)


def _counts(values: Any) -> np.ndarray:
    """Token counts as int64, or as exact Python ints where they do not fit int64."""
    array = np.asarray(values)
    if array.dtype == object:
        try:
            return array.astype(np.int64)
        except OverflowError:
            return np.array([int(v) for v in array.ravel()], dtype=object).reshape(array.shape)
    if array.dtype.kind == "u" and array.size and int(array.max()) >= INT64_LIMIT:
        return array.astype(object)
    return array.astype(np.int64, copy=False)


# --- events as arrays -----------------------------------------------------------------------

PRICE_KEY = ["model", "day", "service_tier", "batch"]


def _key_rates(book: PriceBook, keys: Iterable[tuple]) -> list[tuple[Rates | None, str]]:
    """Rates (batch-resolved) and version for each distinct (model, day, service_tier, batch)."""
    rows: list[tuple[Rates | None, str]] = []
    for model, day, tier, batch in keys:
        when = day.date() if isinstance(day, datetime) else day  # a Timestamp from datetime64
        rates = book.price_at(model, when, service_tier=tier or None)
        if isinstance(rates, Unpriced):
            rows.append((None, ""))
        else:
            rows.append((rates.for_batch() if batch else rates, rates.version))
    return rows


def _key_index(columns: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Each row's key number and the first row of each key, keys being `PRICE_KEY` values."""
    code = np.zeros(len(columns["model"]), dtype=np.int64)
    for name in PRICE_KEY:
        codes, uniques = pd.factorize(np.asarray(columns[name]))
        if len(codes) and codes.min() < 0:  # a missing value is a key of its own
            codes, uniques = pd.factorize(np.asarray(columns[name]), use_na_sentinel=False)
        code = code * max(1, len(uniques)) + codes
    _, first, inverse = np.unique(code, return_index=True, return_inverse=True)
    return inverse.ravel(), first


def price_arrays(
    columns: Mapping[str, np.ndarray], book: PriceBook, *, tier_input: Any = None
) -> dict[str, np.ndarray]:
    """Exact pico-dollar costs for events given as arrays, looking rates up once per key.

    `columns` needs: model, day (dates or datetime64), service_tier ("" for default), batch,
    input_tokens, cached_input_tokens, cache_write_tokens, output_tokens. Returns the four
    cost parts, `cost_pusd`, `cache_savings_pusd` (what the cached tokens would have cost at
    the full input rate, minus what they cost), `priced` and `price_version`. Unpriced rows get
    `priced=False` and zero costs; callers report them. `book` needs only `price_at`. Costs are
    int64 when `fits_int64` holds for the counts and rates, else object arrays of exact ints.
    `tier_input` selects the long-context tier instead of the input count (0: base rates, for
    rows that sum many requests).
    """
    inverse, first = _key_index(columns)
    keys = zip(*(_items(columns[name], first) for name in PRICE_KEY), strict=True)
    table = _key_rates(book, keys)
    rates = rate_arrays([r for r, _ in table])
    parts = price_usage(columns, rates, tier_input=tier_input, index=inverse)
    parts["priced"] = np.array([r is not None for r, _ in table], dtype=bool)[inverse]
    parts["price_version"] = np.array([v for _, v in table], dtype=object)[inverse]
    return parts


def _items(values: Any, rows: np.ndarray) -> list:
    """Python values of `values` at `rows` (datetime64 days as dates)."""
    picked = np.asarray(values)[rows]
    if picked.dtype.kind == "M":
        return picked.astype("datetime64[D]").tolist()
    return picked.tolist()


def price_frame(df: pd.DataFrame, book: PriceBook, *, tier_input: Any = None) -> pd.DataFrame:
    """`price_arrays` for a frame of events: the frame with the cost columns added."""
    out = df.copy()
    columns = {c: df[c].to_numpy() for c in df.columns}
    for name, values in price_arrays(columns, book, tier_input=tier_input).items():
        out[name] = values
    return out
