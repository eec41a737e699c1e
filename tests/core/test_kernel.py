"""The cost kernel held to the `Decimal` definition (`core.costs.cost`) by property tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal, localcontext

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.costs import (
    COST_PARTS,
    MAX_RATE_MICROS,
    MAX_RATE_MTOK,
    MAX_TOKENS,
    MILLION,
    PRICED_TOKENS,
    CostBreakdown,
    RateArrays,
    Usage,
    check_rates,
    cost,
    cost_kernel,
    fits_int64,
    picos_to_usd,
    price,
    price_frame,
    price_usage,
    rate_arrays,
)
from core.plans import RateMatrix, Workload, analyse, monthly_totals, plan_cost, price_variants
from core.pricing import LongContextTier, PriceBook, Rates, Unpriced

D = Decimal
FIELDS = dict(
    zip(
        COST_PARTS,
        ("uncached_input_usd", "cached_input_usd", "cache_write_usd", "output_usd"),
        strict=True,
    )
)
PROPERTY = settings(max_examples=120, deadline=None)
WIDE = 10**24  # counts far beyond MAX_TOKENS and int64, for the exact object path

# --- strategies -------------------------------------------------------------------------------

rate_mtok = st.one_of(
    st.integers(0, MAX_RATE_MICROS).map(lambda micros: D(micros) / MILLION),
    st.sampled_from([D(0), D("0.075"), D("2.5"), D("600"), MAX_RATE_MTOK]),
)
optional_rate = st.none() | rate_mtok


@st.composite
def long_context_tiers(draw: st.DrawFn) -> tuple[LongContextTier, ...]:
    """0 to 3 tiers with ascending edges; unset cached/write tier rates allowed."""
    edges = sorted(draw(st.lists(st.integers(0, MAX_TOKENS), max_size=3, unique=True)))
    return tuple(
        LongContextTier(
            e, draw(rate_mtok), draw(optional_rate), draw(optional_rate), draw(rate_mtok)
        )
        for e in edges
    )


@st.composite
def any_rates(draw: st.DrawFn) -> Rates:
    """Rates with optional cached, cache-write and batch rates and 0 to 3 long-context tiers."""
    return Rates(
        "custom",
        "drawn",
        input_mtok=draw(rate_mtok),
        output_mtok=draw(rate_mtok),
        cached_input_mtok=draw(optional_rate),
        cache_write_mtok=draw(optional_rate),
        batch_input_mtok=draw(optional_rate),
        batch_output_mtok=draw(optional_rate),
        batch_cached_input_mtok=draw(optional_rate),
        tiers=draw(long_context_tiers()),
    )


@st.composite
def usages(draw: st.DrawFn, edges: Sequence[int] = (), limit: int = MAX_TOKENS) -> Usage:
    """A usage that keeps the convention: cached + write <= input, reasoning <= output."""
    near = sorted({e + d for e in edges for d in (0, 1) if e + d <= limit})
    inputs = st.integers(0, limit) | st.sampled_from(near) if near else st.integers(0, limit)
    input_tokens = draw(inputs)
    cached = draw(st.integers(0, input_tokens))
    write = draw(st.integers(0, input_tokens - cached))
    output = draw(st.integers(0, limit))
    return Usage(input_tokens, output, cached, write, draw(st.integers(0, output)))


@st.composite
def priced_rows(draw: st.DrawFn, limit: int = MAX_TOKENS) -> tuple[Rates, bool, Usage]:
    """Rates, real time or batch, and a usage drawn near the rates' tier edges."""
    rates = draw(any_rates())
    edges = [t.above_tokens for t in rates.tiers]
    return rates, draw(st.booleans()), draw(usages(edges, limit))


# --- helpers ----------------------------------------------------------------------------------


def definition(usage: Usage, rates: Rates, batch: bool) -> tuple[CostBreakdown, Decimal, Decimal]:
    """`cost`, its total and the cache saving it implies (no cached tokens, minus it), unrounded."""
    with localcontext(prec=100):
        breakdown = cost(usage, rates, batch=batch)
        uncached = cost(replace(usage, cached_input_tokens=0), rates, batch=batch)
        return breakdown, breakdown.total_usd, uncached.total_usd - breakdown.total_usd


def usage_arrays(usages: Sequence[Usage], dtype: object = None) -> dict[str, np.ndarray]:
    """Kernel usage arrays, one row per usage."""
    return {
        name: np.array([int(getattr(u, name)) for u in usages], dtype=dtype)
        for name in PRICED_TOKENS
    }


def assert_matches_definition(parts: dict, rows: Sequence[tuple[Rates, bool, Usage]]) -> None:
    """Every part of every row equals `cost` to the pico-dollar."""
    for i, (rates, batch, usage) in enumerate(rows):
        breakdown, total, saving = definition(usage, rates, batch)
        for part, field in FIELDS.items():
            assert picos_to_usd(parts[part][i]) == getattr(breakdown, field), (part, i)
        assert picos_to_usd(parts["cost_pusd"][i]) == total
        assert picos_to_usd(parts["cache_savings_pusd"][i]) == saving


def kernel_rates(rows: Sequence[tuple[Rates, bool, Usage]]) -> RateArrays:
    """One rate row per drawn row, resolved for batch as every caller does."""
    return rate_arrays([r.for_batch() if batch else r for r, batch, _ in rows])


# --- the kernel against the definition --------------------------------------------------------


@PROPERTY
@given(st.lists(priced_rows(), min_size=1, max_size=6))
def test_kernel_equals_cost_for_every_part(rows: list) -> None:
    parts = price_usage(usage_arrays([u for _, _, u in rows]), kernel_rates(rows))
    assert parts["cost_pusd"].dtype == np.int64  # within the bounds: the fast path
    assert_matches_definition(parts, rows)


@PROPERTY
@given(st.lists(priced_rows(limit=WIDE), min_size=1, max_size=6))
def test_beyond_the_bounds_the_kernel_stays_exact(rows: list) -> None:
    usage = usage_arrays([u for _, _, u in rows], dtype=object)
    table = kernel_rates(rows)
    parts = price_usage(usage, table)
    largest = max(int(v) for values in usage.values() for v in values)
    expected = np.int64 if fits_int64(largest, table.max_micros()) else object
    assert parts["cost_pusd"].dtype == expected
    assert_matches_definition(parts, rows)


@st.composite
def unconstrained_counts(draw: st.DrawFn, limit: int = MAX_TOKENS) -> dict[str, np.ndarray]:
    """Counts up to `limit` that need not keep the convention (cached may exceed input)."""
    size = draw(st.integers(1, 6))
    counts = st.lists(st.integers(0, limit) | st.just(limit), min_size=size, max_size=size)
    return {name: np.array(draw(counts), dtype=np.int64) for name in PRICED_TOKENS}


@PROPERTY
@given(unconstrained_counts(), st.lists(any_rates(), min_size=6, max_size=6))
def test_int64_and_object_paths_agree(usage: dict, drawn: list) -> None:
    rows = len(usage["input_tokens"])
    table = rate_arrays(drawn[:rows])
    assert fits_int64(MAX_TOKENS, table.max_micros())
    fast = cost_kernel(usage, table.astype(np.dtype(np.int64)))
    exact = cost_kernel(
        {name: values.astype(object) for name, values in usage.items()},
        table.astype(np.dtype(object)),
    )
    for name, values in fast.items():
        assert values.dtype == np.int64
        assert [int(v) for v in values] == list(exact[name]), name


INT64_COUNT = (2**63 - 1) // MAX_RATE_MICROS  # a count whose single product still fits int64


@PROPERTY
@given(
    unconstrained_counts(limit=INT64_COUNT),
    st.lists(
        any_rates() | st.just(Rates("custom", "max", MAX_RATE_MTOK, MAX_RATE_MTOK)),
        min_size=6,
        max_size=6,
    ),
)
def test_price_usage_never_wraps_near_the_int64_limit(usage: dict, drawn: list) -> None:
    table = rate_arrays(drawn[: len(usage["input_tokens"])])
    chosen = price_usage(usage, table)
    exact = cost_kernel(
        {name: values.astype(object) for name, values in usage.items()},
        table.astype(np.dtype(object)),
    )
    for name, values in chosen.items():
        assert [int(v) for v in values] == list(exact[name]), name


def test_bounds_prove_a_stored_cost_fits_bigint() -> None:
    assert MAX_RATE_MICROS == 10_000 * 10**6
    # One part at most 1e18 pico-dollars, a row's input plus output side at most 2e18.
    assert MAX_TOKENS * MAX_RATE_MICROS == 10**18
    assert 2 * MAX_TOKENS * MAX_RATE_MICROS < 2**63
    assert fits_int64(MAX_TOKENS, MAX_RATE_MICROS)
    assert not fits_int64(2 * MAX_TOKENS, MAX_RATE_MICROS)  # 6 x 2e8 x 1e10 > 9.22e18
    assert not fits_int64(10**13, 10 * 10**6)  # the huge gpt-4o example below
    assert not fits_int64(2**62, 0)  # free rates, but the counts themselves overflow


def test_kernel_at_the_bounds_with_the_worst_counts() -> None:
    # input 0 with cached and write at the bound: the uncached count is -2 x MAX_TOKENS.
    worst = Rates("custom", "worst", MAX_RATE_MTOK, MAX_RATE_MTOK, cached_input_mtok=D(0))
    usage = {
        "input_tokens": np.array([0, MAX_TOKENS]),
        "cached_input_tokens": np.array([MAX_TOKENS, MAX_TOKENS]),
        "cache_write_tokens": np.array([MAX_TOKENS, 0]),
        "output_tokens": np.array([MAX_TOKENS, MAX_TOKENS]),
    }
    parts = price_usage(usage, rate_arrays([worst, worst]))
    assert parts["cost_pusd"].dtype == np.int64
    # -2e8 x 1e10 + 0 + 1e8 x 1e10 + 1e8 x 1e10 = 0; then 0 + 0 + 0 + 1e18
    assert parts["uncached_input_pusd"].tolist() == [-2 * 10**18, 0]
    assert parts["cost_pusd"].tolist() == [0, 10**18]
    assert parts["cache_savings_pusd"].tolist() == [10**18, 10**18]


def test_highest_tier_exceeded_prices_every_token() -> None:
    two = Rates(
        "custom",
        "two-tiers",
        D(1),
        D(2),
        tiers=(
            LongContextTier(100_000, D(3), None, None, D(4)),
            LongContextTier(200_000, D(5), D("0.5"), None, D(6)),
        ),
    )
    usage = usage_arrays(
        [Usage(100_000, 10), Usage(100_001, 10), Usage(200_001, 10, cached_input_tokens=1)]
    )
    parts = price_usage(usage, rate_arrays([two, two, two]))
    # 100,000 x $1 + 10 x $2 | 100,001 x $3 + 10 x $4 | 200,000 x $5 + 1 x $0.50 + 10 x $6
    assert [picos_to_usd(v) for v in parts["cost_pusd"]] == [
        D("0.10002"),
        D("0.300043"),
        D("1.0000605"),
    ]


def test_tier_input_selects_the_tier_not_the_counts() -> None:
    long = Rates(
        "custom", "long", D(1), D(1), tiers=(LongContextTier(1000, D(2), None, None, D(2)),)
    )
    usage = usage_arrays([Usage(5000, 0), Usage(5000, 0)])  # e.g. five requests of 1,000
    parts = price_usage(usage, rate_arrays([long, long]), tier_input=np.array([1000, 1001]))
    assert [picos_to_usd(v) for v in parts["cost_pusd"]] == [D("0.005"), D("0.01")]


# --- price_arrays against the price book ------------------------------------------------------

EVENT_COLUMNS = ["model", "day", "service_tier", "batch", *PRICED_TOKENS]


def assert_frame_matches_price(rows: list[tuple], book: object) -> pd.DataFrame:
    """`price_frame` against `price` row by row: every part, unpriced rows at zero."""
    frame = price_frame(pd.DataFrame(rows, columns=EVENT_COLUMNS), book)
    for row, (_, out) in zip(rows, frame.iterrows(), strict=True):
        model, day, tier, batch, inp, cached, write, outp = row
        usage = Usage(inp, outp, cached, write)
        expected = price(usage, model, book, day, batch=batch, service_tier=tier or None)
        if isinstance(expected, Unpriced):
            assert not out["priced"] and out["cost_pusd"] == 0
            continue
        assert out["priced"]
        for part, field in FIELDS.items():
            assert picos_to_usd(out[part]) == getattr(expected, field), (row, part)
        assert picos_to_usd(out["cost_pusd"]) == expected.total_usd
    return frame


def _changes() -> list[tuple[str, date]]:
    book = PriceBook.from_snapshot()
    return [(f"{e.provider}/{e.model}", d) for e in book.entries for d in e.change_dates()]


SNAPSHOT_CHANGES = _changes()


@st.composite
def snapshot_events(draw: st.DrawFn) -> tuple:
    """An event of a snapshot model on the day before, of, or after one of its price changes."""
    model, changed = draw(st.sampled_from(SNAPSHOT_CHANGES))
    day = changed + timedelta(days=draw(st.integers(-1, 1)))
    usage = draw(usages((128_000, 200_000, 272_000)))
    tier = draw(st.sampled_from(["", "flex", "priority"]))
    return (model, day, tier, draw(st.booleans()), usage.input_tokens,
            usage.cached_input_tokens, usage.cache_write_tokens, usage.output_tokens)  # fmt: skip


@PROPERTY
@given(st.lists(snapshot_events(), min_size=1, max_size=8))
def test_price_arrays_equal_cost_where_snapshot_prices_change(rows: list) -> None:
    frame = assert_frame_matches_price(rows, SNAPSHOT_BOOK)
    assert frame["cost_pusd"].dtype == np.int64


SNAPSHOT_BOOK = PriceBook.from_snapshot()


class DatedBook:
    """A price book of drawn rates that change on drawn days (`price_arrays` needs `price_at`)."""

    def __init__(self, periods: dict[str, list[tuple[date, Rates]]]) -> None:
        self.periods = periods

    def price_at(self, model: str, when: date, *, service_tier: str | None = None) -> object:
        """The latest period that started on or before `when`."""
        started = [r for start, r in self.periods.get(model, []) if start <= when]
        return started[-1] if started else Unpriced(model, "not in the drawn book")


START = date(2025, 1, 1)


@st.composite
def dated_books(draw: st.DrawFn) -> tuple[DatedBook, list[tuple]]:
    """Two models whose drawn rates change on drawn days, and events around those days."""
    periods = {}
    for model in ("alpha", "beta"):
        offsets = sorted(draw(st.lists(st.integers(0, 60), min_size=1, max_size=3, unique=True)))
        periods[model] = [(START + timedelta(days=o), draw(any_rates())) for o in offsets]
    book = DatedBook(periods)
    days = sorted({d + timedelta(days=s) for p in periods.values() for d, _ in p for s in (-1, 0)})
    edges = [t.above_tokens for p in periods.values() for _, r in p for t in r.tiers]
    events = []
    for _ in range(draw(st.integers(1, 8))):
        usage = draw(usages(edges))
        events.append(
            (draw(st.sampled_from(["alpha", "beta", "gamma"])), draw(st.sampled_from(days)), "",
             draw(st.booleans()), usage.input_tokens, usage.cached_input_tokens,
             usage.cache_write_tokens, usage.output_tokens)
        )  # fmt: skip
    return book, events


@PROPERTY
@given(dated_books())
def test_price_arrays_equal_cost_for_drawn_books_with_tiers(drawn: tuple) -> None:
    book, rows = drawn
    frame = assert_frame_matches_price(rows, book)
    assert frame["cost_pusd"].dtype == np.int64


def test_huge_output_count_is_exact_not_wrapped() -> None:
    book = PriceBook.from_snapshot()
    day = date(2025, 6, 1)
    rates = book.price_at("gpt-4o", day)
    assert (rates.input_mtok, rates.output_mtok) == (D("2.5"), D(10))
    # 10 input x $2.50/M = $0.000025; 10,000,000,000,000 output x $10/M = $100,000,000.
    by_hand = 10 * rates.input_mtok / MILLION + 10**13 * rates.output_mtok / MILLION
    assert by_hand == D("100000000.000025")
    row = ("gpt-4o", day, "", False, 10, 0, 0, 10_000_000_000_000)
    frame = price_frame(pd.DataFrame([row], columns=EVENT_COLUMNS), book)
    assert picos_to_usd(frame["cost_pusd"].iloc[0]) == by_hand
    assert frame["output_pusd"].iloc[0] == 10**20  # above 2**63: int64 would have wrapped
    assert cost(Usage(10, 10**13), rates).total_usd == by_hand


# --- the calculator against plan_cost ---------------------------------------------------------


@st.composite
def workloads(draw: st.DrawFn, edges: Sequence[int]) -> Workload:
    """A planned workload; shares in 1e-4 steps, counts up to MAX_TOKENS, near tier edges."""
    usage = draw(usages(edges))
    capped = draw(st.none() | st.integers(1, MAX_TOKENS))
    return Workload(
        requests_per_day=D(draw(st.integers(0, 10**8))) / 100,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_hit_share=D(draw(st.integers(0, 10_000))) / 10_000,
        batch_share=D(draw(st.integers(0, 10_000))) / 10_000,
        days_per_month=draw(st.integers(1, 31)),
        max_output_tokens=capped,
    )


@st.composite
def plans(draw: st.DrawFn) -> tuple[list[Rates], list[Workload]]:
    """1 to 4 models (multi-tier allowed) and 1 to 3 workloads drawn near their tier edges."""
    models = [
        replace(r, model=f"m{i}")
        for i, r in enumerate(draw(st.lists(any_rates(), min_size=1, max_size=4)))
    ]
    edges = [t.above_tokens for r in models for t in r.tiers]
    return models, draw(st.lists(workloads(edges), min_size=1, max_size=3))


@PROPERTY
@given(plans())
def test_calculator_equals_plan_cost(drawn: tuple) -> None:
    models, variants = drawn
    matrix = RateMatrix.from_rates(models)
    totals = monthly_totals(matrix, variants)
    for i, row in enumerate(price_variants(matrix, variants)):
        for j, (vector, rates) in enumerate(zip(row, models, strict=True)):
            reference = plan_cost(variants[i], rates)
            assert vector.per_request == reference.per_request
            assert vector.monthly_usd == reference.monthly_usd
            assert totals[i, j] == reference.monthly_usd


@settings(max_examples=40, deadline=None)
@given(plans())
def test_analysis_comparison_equals_plan_cost(drawn: tuple) -> None:
    models, variants = drawn
    result = analyse(variants[0], models[0], RateMatrix.from_rates(models))
    assert result.plan.monthly_usd == plan_cost(variants[0], models[0]).monthly_usd
    for compared in result.comparison:
        rates = next(r for r in models if r.model == compared.model)
        assert compared.monthly_usd == plan_cost(variants[0], rates).monthly_usd


# --- rate bounds ------------------------------------------------------------------------------


def test_every_snapshot_rate_is_within_the_bound() -> None:
    book = PriceBook.from_snapshot()
    checked = 0
    for entry in book.entries:
        ref = f"{entry.provider}/{entry.model}"
        periods = book.history(ref)
        for day in (None, *entry.change_dates()):
            periods += [book.price_at(ref, day, service_tier=t) for t in ("flex", "priority")]
        for rates in periods:
            check_rates(rates)
            checked += 1
    assert checked > 500


@pytest.mark.parametrize(
    ("rates", "reason"),
    [
        (Rates("custom", "x", MAX_RATE_MTOK + D("0.000001"), D(1)), "outside"),
        (Rates("custom", "x", D(1), D(1), batch_output_mtok=D(-1)), "batch_output_mtok"),
        (Rates("custom", "x", D(1), D("0.0000001")), "six decimals"),
        (
            Rates(
                "custom", "x", D(1), D(1), tiers=(LongContextTier(9, D(1), None, None, D(10**5)),)
            ),
            "tier 1 output_mtok",
        ),
    ],
)
def test_rates_beyond_the_bound_are_refused(rates: Rates, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_rates(rates)
    check_rates(replace(rates, input_mtok=D(1), output_mtok=D(1), batch_output_mtok=None, tiers=()))
