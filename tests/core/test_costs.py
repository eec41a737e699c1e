"""Exact costs: the guide's worked examples, caching, batch, tiers, and the vectorised twin."""

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from core.costs import PRICED_TOKENS, Usage, cost, picos_to_usd, price, price_frame
from core.pricing import LongContextTier, PriceBook, PriceOverride, Rates, Unpriced

D = Decimal
GPT4O = Rates(
    "openai",
    "gpt-4o",
    input_mtok=D("2.50"),
    output_mtok=D("10.00"),
    cached_input_mtok=D("0.25"),
    batch_input_mtok=D("1.25"),
    batch_output_mtok=D("5"),
)
MINI = Rates("openai", "gpt-4o-mini", input_mtok=D("0.15"), output_mtok=D("0.60"))


def test_guide_monthly_example_gpt_4o():
    # 500 req/day x 30 days = 15,000 requests; 24M input x $2.50/M = $60; 6M output x $10/M = $60
    month = Usage(input_tokens=1_600 * 15_000, output_tokens=400 * 15_000)
    breakdown = cost(month, GPT4O)
    assert breakdown.uncached_input_usd == D("60.00")
    assert breakdown.output_usd == D("60.00")
    assert breakdown.total_usd == D("120.00")


def test_guide_monthly_example_gpt_4o_mini_is_94_percent_less():
    month = Usage(input_tokens=24_000_000, output_tokens=6_000_000)
    mini = cost(month, MINI).total_usd  # 24 x 0.15 + 6 x 0.60 = 3.60 + 3.60
    assert mini == D("7.20")
    assert (1 - mini / D("120.00")).quantize(D("0.01")) == D("0.94")


def test_guide_caching_example():
    # 5,000 input tokens at $2.50/M = $0.0125; all cached at $0.25/M = $0.00125
    assert cost(Usage(5_000, 0), GPT4O).total_usd == D("0.0125")
    assert cost(Usage(5_000, 0, cached_input_tokens=5_000), GPT4O).total_usd == D("0.00125")


def test_cached_and_reasoning_tokens_are_never_counted_twice():
    # 2,000 input of which 1,024 cached; 500 output of which 300 reasoning.
    usage = Usage(2_000, 500, cached_input_tokens=1_024, reasoning_tokens=300)
    b = cost(usage, GPT4O)
    assert b.uncached_input_usd == D(976) * D("2.5") / 1_000_000  # 0.00244
    assert b.cached_input_usd == D(1_024) * D("0.25") / 1_000_000  # 0.000256
    assert b.output_usd == D(500) * D(10) / 1_000_000  # 0.005, reasoning inside
    assert b.total_usd == D("0.007696")


def test_cache_write_tokens_bill_at_the_write_rate():
    rates = Rates(
        "anthropic",
        "claude",
        input_mtok=D(3),
        output_mtok=D(15),
        cached_input_mtok=D("0.3"),
        cache_write_mtok=D("3.75"),
    )
    # 10,000 input = 2,000 uncached + 5,000 read + 3,000 written
    b = cost(Usage(10_000, 0, cached_input_tokens=5_000, cache_write_tokens=3_000), rates)
    assert (b.uncached_input_usd, b.cached_input_usd, b.cache_write_usd) == (
        D("0.006"),
        D("0.0015"),
        D("0.01125"),
    )


def test_batch_halves_the_cost():
    usage = Usage(1_600, 400)
    assert cost(usage, GPT4O, batch=True).total_usd * 2 == cost(usage, GPT4O).total_usd


def test_long_context_tier_prices_all_tokens_above_threshold():
    book = PriceBook.from_snapshot()
    rates = book.price_at("gemini-2.5-pro", date(2025, 9, 1))
    small = cost(Usage(200_000, 1_000), rates)  # at the threshold: base 1.25 / 10
    large = cost(Usage(200_001, 1_000), rates)  # above: 2.5 / 15 on every token
    assert small.total_usd == D("0.25") + D("0.01")
    assert large.total_usd == D("200001") * D("2.5") / 1_000_000 + D("0.015")


def test_price_reports_unpriced_models():
    assert isinstance(price(Usage(10, 10), "mystery-model", PriceBook.from_snapshot()), Unpriced)


def test_vectorised_path_matches_scalar_to_the_picodollar():
    book = PriceBook.from_snapshot(
        [PriceOverride("acme-ft", date(2025, 1, 1), input_mtok=D("0.3"), output_mtok=D("1.2"))]
    )
    rows = [
        ("gpt-4o-2024-08-06", date(2025, 5, 1), "", False, 1_600, 0, 0, 400),
        ("gpt-4o", date(2025, 5, 1), "", True, 1_600, 0, 0, 400),
        ("o3", date(2025, 6, 9), "", False, 3_000, 1_024, 0, 2_000),
        ("o3", date(2025, 6, 10), "", False, 3_000, 1_024, 0, 2_000),
        ("gemini-2.5-pro", date(2025, 9, 1), "", False, 250_000, 0, 0, 1_000),
        ("claude-sonnet-4-5", date(2025, 9, 1), "", False, 9_000, 4_000, 2_000, 700),
        ("gpt-5", date(2026, 11, 1), "flex", False, 10_000, 0, 0, 1_000),
        ("acme-ft", date(2025, 2, 1), "", False, 1_000, 0, 0, 1_000),
        ("nobody-knows", date(2025, 2, 1), "", False, 1_000, 0, 0, 1_000),
    ]
    columns = [
        "model",
        "day",
        "service_tier",
        "batch",
        "input_tokens",
        "cached_input_tokens",
        "cache_write_tokens",
        "output_tokens",
    ]
    frame = price_frame(pd.DataFrame(rows, columns=columns), book)
    for row, (_, out) in zip(rows, frame.iterrows(), strict=True):
        model, day, tier, batch, inp, cached, write, outp = row
        expected = price(
            Usage(inp, outp, cached, write),
            model,
            book,
            day,
            batch=batch,
            service_tier=tier or None,
        )
        if isinstance(expected, Unpriced):
            assert not out["priced"] and out["cost_pusd"] == 0
        else:
            assert out["priced"]
            assert picos_to_usd(out["cost_pusd"]) == expected.total_usd
            assert picos_to_usd(out["cached_input_pusd"]) == expected.cached_input_usd


def test_rates_with_more_than_six_decimals_are_refused():
    from core.costs import to_micros

    assert to_micros(D("0.003625")) == 3_625
    with pytest.raises(ValueError, match="six decimals"):
        to_micros(D("0.0000001"))


def test_vectorised_path_reports_what_caching_saved():
    # gpt-4o: 1,024 cached tokens at $1.25 instead of $2.50 per 1M saves 1,024 x 1.25 = $0.00128
    row = {
        "model": "gpt-4o",
        "day": date(2025, 5, 1),
        "service_tier": "",
        "batch": False,
        "input_tokens": 2_000,
        "cached_input_tokens": 1_024,
        "cache_write_tokens": 0,
        "output_tokens": 10,
    }
    out = price_frame(pd.DataFrame([row]), PriceBook.from_snapshot())
    assert picos_to_usd(out["cache_savings_pusd"].iloc[0]) == D("0.00128")


def test_a_zero_batch_rate_is_a_price_not_a_missing_one():
    free = Rates(
        "custom",
        "free-batch",
        input_mtok=D(2),
        output_mtok=D(8),
        cached_input_mtok=D(1),
        batch_input_mtok=D(0),
        batch_output_mtok=D(0),
        batch_cached_input_mtok=D(0),
    )
    assert cost(Usage(1_000, 500, cached_input_tokens=200), free, batch=True).total_usd == 0
    # Unset batch rates fall back to real time: 800 x $2/M + 200 x $1/M + 500 x $8/M = 0.0058
    unset = Rates("custom", "no-batch", D(2), D(8), cached_input_mtok=D(1))
    assert cost(Usage(1_000, 500, cached_input_tokens=200), unset, batch=True).total_usd == D(
        "0.0058"
    )


def test_a_zero_batch_override_prices_batch_events_at_zero():
    book = PriceBook.from_snapshot(
        [
            PriceOverride(
                "gpt-4o",
                date(2025, 1, 1),
                input_mtok=D("2.5"),
                output_mtok=D(10),
                batch_input_mtok=D(0),
                batch_output_mtok=D(0),
            )
        ]
    )
    rows = [("gpt-4o", date(2025, 5, 1), "", batch, 1_600, 0, 0, 400) for batch in (False, True)]
    columns = ["model", "day", "service_tier", "batch", *PRICED_TOKENS]
    frame = price_frame(pd.DataFrame(rows, columns=columns), book)
    # real time: 1,600 x $2.50/M + 400 x $10/M = $0.008; batch: free
    assert [picos_to_usd(v) for v in frame["cost_pusd"]] == [D("0.008"), 0]


class OneModelBook:
    """A price book that prices every model at the same rates (`price_frame` needs `price_at`)."""

    def __init__(self, rates: Rates) -> None:
        self.rates = rates

    def price_at(self, model, when, *, service_tier=None):
        """The one set of rates."""
        return self.rates


def test_long_context_tiers_all_apply_at_ingest():
    tiers = (
        LongContextTier(100_000, D(3), None, None, D(4)),
        LongContextTier(200_000, D(5), None, None, D(6)),
    )
    book = OneModelBook(Rates("custom", "two-tier", D(1), D(2), tiers=tiers))
    sizes = (100_000, 150_000, 250_000)
    rows = [("two-tier", date(2025, 5, 1), "", False, n, 0, 0, 10) for n in sizes]
    columns = ["model", "day", "service_tier", "batch", *PRICED_TOKENS]
    frame = price_frame(pd.DataFrame(rows, columns=columns), book)
    # 100,000 x $1/M + 10 x $2/M = 0.10002 (at the edge: base rates);
    # 150,000 x $3/M + 10 x $4/M = 0.45004; 250,000 x $5/M + 10 x $6/M = 1.25006
    assert [picos_to_usd(v) for v in frame["cost_pusd"]] == [
        D("0.10002"),
        D("0.45004"),
        D("1.25006"),
    ]
