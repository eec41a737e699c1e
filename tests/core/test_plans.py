"""Plans against hand-computed figures: the classic example, caching, batch, growth, chats."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from core.plans import (
    Conversation,
    PlanError,
    RateMatrix,
    Workload,
    analyse,
    cents,
    compare_models,
    comparison_frame,
    compression_saving,
    conversation_costs,
    plan_cost,
    price_variants,
    projection,
    summary_calls,
    turn_input_tokens,
)
from core.pricing import LongContextTier, PriceBook, Rates

GPT4O = Rates(
    "openai",
    "gpt-4o",
    D("2.50"),
    D("10"),
    cached_input_mtok=D("1.25"),
    batch_input_mtok=D("1.25"),
    batch_output_mtok=D("5"),
    batch_cached_input_mtok=D("0.625"),
    context_window=128_000,
)
MINI = Rates(
    "openai",
    "gpt-4o-mini",
    D("0.15"),
    D("0.60"),
    cached_input_mtok=D("0.075"),
    batch_input_mtok=D("0.075"),
    batch_output_mtok=D("0.30"),
    context_window=128_000,
)
CACHED = Rates("custom", "cheap-cache", D("2.50"), D("10"), cached_input_mtok=D("0.25"))
TIERED = Rates(
    "google",
    "long",
    D("1.25"),
    D("10"),
    cached_input_mtok=D("0.125"),
    tiers=(LongContextTier(200_000, D("2.50"), D("0.25"), None, D("15")),),
    context_window=1_000_000,
)
SMALL = Rates("custom", "small-window", D("1"), D("2"), context_window=1_000)
CLASSIC = Workload(requests_per_day=500, input_tokens=1600, output_tokens=400)


@pytest.fixture(scope="module")
def matrix() -> RateMatrix:
    return RateMatrix.from_rates([GPT4O, MINI, CACHED, TIERED, SMALL])


def test_classic_gpt4o_is_120_a_month() -> None:
    # input 1,600 x 500 x 30 = 24M tokens x $2.50/M = $60; output 400 x 500 x 30 = 6M x $10/M = $60
    plan = plan_cost(CLASSIC, GPT4O)
    assert plan.monthly_usd == D("120")
    assert plan.monthly.uncached_input_usd == D("60")
    assert plan.monthly.output_usd == D("60")
    assert plan.monthly.cached_input_usd == 0
    assert plan.daily_usd == D("4")  # 120 / 30
    assert plan.cost_per_request_usd == D("0.008")  # 1600 x 2.5e-6 + 400 x 1e-5
    assert plan.per_1k_requests_usd == D("8")
    assert plan.yearly_usd == D("1440")


def test_classic_mini_is_7_20_and_94_percent_less() -> None:
    # 24M x $0.15/M = $3.60; 6M x $0.60/M = $3.60
    mini = plan_cost(CLASSIC, MINI).monthly_usd
    assert mini == D("7.20")
    assert cents((1 - mini / D(120)) * 100) == D("94.00")


def test_doubling_volume_doubles_cost() -> None:
    doubled = Workload(requests_per_day=1000, input_tokens=1600, output_tokens=400)
    assert plan_cost(doubled, GPT4O).monthly_usd == 2 * plan_cost(CLASSIC, GPT4O).monthly_usd


def test_full_batch_halves_cost_where_batch_price_is_half() -> None:
    batched = Workload(requests_per_day=500, input_tokens=1600, output_tokens=400, batch_share=1)
    assert plan_cost(batched, GPT4O).monthly_usd == D("60")
    half = Workload(requests_per_day=500, input_tokens=1600, output_tokens=400, batch_share="0.5")
    assert plan_cost(half, GPT4O).monthly_usd == D("90")  # 60 real time + 30 batch


def test_cached_rate_against_full_rate() -> None:
    # 5,000 input tokens: $2.50/M -> $0.0125; all cached at $0.25/M -> $0.00125
    cold = Workload(requests_per_day=1, input_tokens=5000, output_tokens=0)
    warm = Workload(requests_per_day=1, input_tokens=5000, output_tokens=0, cache_hit_share=1)
    assert plan_cost(cold, CACHED).cost_per_request_usd == D("0.0125")
    assert plan_cost(warm, CACHED).cost_per_request_usd == D("0.00125")
    assert plan_cost(warm, CACHED).per_request.cached_input_usd == D("0.00125")


def test_partial_cache_split() -> None:
    # 40 % of 1,600 = 640 cached at $1.25/M, 960 at $2.50/M; per month x 15,000 requests
    w = Workload(requests_per_day=500, input_tokens=1600, output_tokens=400, cache_hit_share="0.4")
    monthly = plan_cost(w, GPT4O).monthly
    assert monthly.cached_input_usd == D("12")  # 640 x 15,000 = 9.6M x 1.25
    assert monthly.uncached_input_usd == D("36")  # 960 x 15,000 = 14.4M x 2.50
    assert monthly.total_usd == D("108")


def test_max_tokens_cap_bounds_output() -> None:
    w = Workload(requests_per_day=500, input_tokens=1600, output_tokens=400, max_output_tokens=200)
    # output 200 x 15,000 = 3M x $10/M = $30 + input $60
    assert plan_cost(w, GPT4O).monthly_usd == D("90")
    assert w.reserved_tokens == 1800


def test_long_context_tier_applies_above_threshold() -> None:
    w = Workload(requests_per_day=1, input_tokens=250_000, output_tokens=1000, days_per_month=1)
    # 250k x $2.50/M = 0.625; 1k x $15/M = 0.015
    assert plan_cost(w, TIERED).monthly_usd == D("0.64")


TWO_TIERS = Rates(
    "custom",
    "two-tiers",
    D(1),
    D(2),
    cached_input_mtok=D("0.5"),
    batch_input_mtok=D("0.5"),
    batch_output_mtok=D(1),
    tiers=(
        LongContextTier(100_000, D(3), D("1.5"), None, D(4)),
        LongContextTier(200_000, D(5), None, None, D(6)),
    ),
)


def test_every_long_context_tier_applies_in_the_calculator() -> None:
    sizes = (100_000, 150_000, 250_000)
    plans = [Workload(1, n, 1000, days_per_month=1) for n in sizes]
    row = [p[0].monthly_usd for p in price_variants(RateMatrix.from_rates([TWO_TIERS]), plans)]
    # at the edge, base: 100,000 x $1/M + 1,000 x $2/M = 0.102; above 100k: 150,000 x $3/M
    # + 1,000 x $4/M = 0.454; above 200k: 250,000 x $5/M + 1,000 x $6/M = 1.256
    assert row == [D("0.102"), D("0.454"), D("1.256")]
    assert row == [plan_cost(w, TWO_TIERS).monthly_usd for w in plans]


def test_tier_cache_and_batch_blend() -> None:
    w = Workload(1, 150_000, 1000, cache_hit_share="0.4", batch_share="0.5", days_per_month=1)
    plan = price_variants(RateMatrix.from_rates([TWO_TIERS]), [w])[0][0]
    # real time, tier 1: 90,000 x $3/M + 60,000 x $1.50/M + 1,000 x $4/M = 0.364
    # batch (no tiers, cached at the real-time base cached rate): 90,000 x $0.50/M
    # + 60,000 x $0.50/M + 1,000 x $1/M = 0.076; half and half: 0.22
    assert plan.monthly_usd == D("0.22")
    assert plan.per_request == plan_cost(w, TWO_TIERS).per_request


@pytest.mark.parametrize(
    "workload",
    [
        CLASSIC,
        Workload(D("333.3"), 250_000, 1234, cache_hit_share="0.37", batch_share="0.21"),
        Workload(7, 900, 77, cache_hit_share="0.9999", batch_share="1", max_output_tokens=50),
    ],
)
def test_vectorised_equals_decimal_path(workload: Workload, matrix: RateMatrix) -> None:
    for vector in price_variants(matrix, [workload])[0]:
        rates = next(r for r in matrix.rates if r.model == vector.model)
        reference = plan_cost(workload, rates)
        assert vector.per_request == reference.per_request
        assert vector.monthly_usd == reference.monthly_usd


def test_vectorised_matches_whole_snapshot() -> None:
    book = PriceBook.from_snapshot()
    table = book.table(date(2025, 6, 1))
    w = Workload(D("1234.5"), 3210, 987, cache_hit_share="0.33", batch_share="0.4")
    for vector, rates in zip(
        price_variants(RateMatrix.from_rates(table), [w])[0], table, strict=False
    ):
        assert cents(vector.monthly_usd) == cents(plan_cost(w, rates).monthly_usd)
        assert vector.monthly_usd == plan_cost(w, rates).monthly_usd


def test_comparison_sorted_and_flags_context(matrix: RateMatrix) -> None:
    w = Workload(requests_per_day=10, input_tokens=900, output_tokens=200)
    costs = compare_models(w, matrix)
    monthly = [c.monthly_usd for c in costs]
    assert monthly == sorted(monthly)
    small = next(c for c in costs if c.model == "small-window")
    assert small.fits_context is False  # 900 + 200 > 1,000
    assert next(c for c in costs if c.model == "cheap-cache").fits_context is None
    frame = comparison_frame(costs, plan_cost(w, GPT4O))
    assert frame.loc[frame.model == "gpt-4o", "selected"].item()


def test_projection_compounds_growth() -> None:
    w = Workload(500, 1600, 400, growth_monthly_share="0.10", months=3)
    months = projection(plan_cost(w, GPT4O), w)
    # 120, 132, 145.20 -> cumulative 397.20
    assert [m.monthly_usd for m in months] == [D("120"), D("132"), D("145.2")]
    assert months[-1].cumulative_usd == D("397.2")
    assert months[2].requests_per_day == D("605")


def test_analyse_answers_the_four_questions(matrix: RateMatrix) -> None:
    a = analyse(
        CLASSIC, GPT4O, matrix, engineering_cost_usd=D("300"), batch_overhead_monthly_usd=D("15")
    )
    q = a.questions
    assert q.monthly_usd == D("120") and q.doubled_usd == D("240")
    mini = next(s for s in q.switches if s.model == "gpt-4o-mini")
    assert mini.saving_usd == D("112.8") and cents(mini.saving_share * 100) == D("94.00")
    assert all(s.monthly_usd < D("120") for s in q.switches)
    # caching at the default 50 %: 800 cached tokens x 15,000 = 12M x (2.50 - 1.25) = $15 saved
    assert q.caching.cache_hit_share == D("0.5")
    assert q.caching.saving_usd == D("15")
    assert q.caching.payback_months == D("20")  # $300 / $15
    # full batch: $60 saved; $15 overhead -> break-even at 25 % batch share
    assert q.batch.full_batch_saving_usd == D("60")
    assert q.batch.break_even_share == D("0.25")
    # at 100 % batch each request saves 60 / 15,000 = $0.004; $15 / (0.004 x 30) = 125 req/day
    assert q.batch.break_even_requests_per_day == D("125")


def test_tornado_swings_each_driver(matrix: RateMatrix) -> None:
    a = analyse(CLASSIC, GPT4O, matrix)
    bars = {b.driver: b for b in a.tornado}
    assert bars["volume"].low_usd == D("90") and bars["volume"].high_usd == D("150")
    assert bars["price"].low_usd == D("90") and bars["price"].high_usd == D("150")
    # input 1,200 / 2,000 tokens: input part 45 / 75, output stays 60
    assert bars["input_tokens"].low_usd == D("105") and bars["input_tokens"].high_usd == D("135")
    # cache share 0 -> 0.2: 320 cached tokens save 320 x 15,000 x 1.25e-6 = $6
    assert bars["cache_hit_share"].high_usd == D("114")
    assert bars["batch_share"].high_usd == D("108")  # 20 % of traffic at half price
    assert a.tornado[0].spread_usd >= a.tornado[-1].spread_usd


def test_grid_is_volume_by_output(matrix: RateMatrix) -> None:
    grid = analyse(CLASSIC, GPT4O, matrix).grid.frame()
    assert grid.loc["500", 400] == D("120")
    assert grid.loc["1000", 400] == D("240")
    # 500/day, 800 output: 60 input + 12M x $10/M = 180
    assert grid.loc["500", 800] == D("180")


def test_conversation_strategies_small_case() -> None:
    conv = Conversation(
        conversations_per_day=10,
        turns=4,
        system_tokens=100,
        user_tokens=50,
        assistant_tokens=100,
        window_turns=2,
        summary_tokens=80,
        summary_every_turns=2,
    )
    # full: 150, 300, 450, 600 (each exchange adds 150)
    assert turn_input_tokens(conv, "full") == [150, 300, 450, 600]
    # window of 2 exchanges: history stops growing after turn 3
    assert turn_input_tokens(conv, "window") == [150, 300, 450, 450]
    # summary of 80 every 2 turns: turn 3 = 100 + 80 + 50, turn 4 = 100 + 80 + 150 + 50
    assert turn_input_tokens(conv, "summary") == [150, 300, 230, 380]
    assert summary_calls(conv) == [(300, 80)]  # one summary of 2 exchanges
    rates = Rates("custom", "flat", D("1"), D("2"))
    costs = {c.strategy: c for c in conversation_costs(conv, rates, days_per_month=30)}
    # full: 1,500 in x $1/M + 400 out x $2/M = 0.0015 + 0.0008 = 0.0023
    assert costs["full"].per_conversation_usd == D("0.0023")
    assert costs["full"].monthly_usd == D("0.69")  # x 10 x 30
    # window: 1,350 in + 400 out -> 0.00135 + 0.0008
    assert costs["window"].per_conversation_usd == D("0.00215")
    # summary: (1,060 + 300) in, (400 + 80) out -> 0.00136 + 0.00096
    assert costs["summary"].input_tokens == 1360 and costs["summary"].output_tokens == 480
    assert costs["summary"].per_conversation_usd == D("0.00232")


def test_compression_saving() -> None:
    # 1,750 tokens saved x 15,000 requests = 26.25M tokens x $2.50/M = $65.625
    w = Workload(500, 2000, 400)
    saving = compression_saving(w, GPT4O, current_tokens=2000, compressed_tokens=250)
    assert saving.saved_tokens_per_request == 1750
    assert saving.saved_tokens_per_month == D("26250000")
    assert saving.saved_usd == D("65.625")


def test_unusable_inputs_raise_plan_error() -> None:
    with pytest.raises(PlanError):
        Workload(500, 1600, 400, cache_hit_share="1.5")
    with pytest.raises(PlanError):
        Workload(-1, 1600, 400)
    with pytest.raises(PlanError):
        compression_saving(CLASSIC, GPT4O, current_tokens=5000, compressed_tokens=0)


def test_params_round_trip() -> None:
    w = Workload(
        D("12.5"),
        10,
        20,
        cache_hit_share="0.25",
        pricing_date=date(2025, 1, 2),
        max_output_tokens=64,
    )
    assert Workload.from_params(w.to_params()) == w
