"""Routing simulator and plan-vs-actual variance, checked against hand-worked figures."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from core.pricing import LongContextTier, PriceBook, PriceOverride, Rates
from core.routing import (
    TRAFFIC_COLUMNS,
    Rule,
    RuleError,
    Simulation,
    cut_points,
    parse_rule,
    plan_traffic,
    plan_vs_actual,
    rule_from_form,
    simulate,
    suggest,
    target_problem,
)

D = Decimal
DAY = date(2025, 1, 1)


@pytest.fixture
def book() -> PriceBook:
    """Two custom models: `big` (batch at half price) and `small` with a 4,000-token window."""
    return PriceBook(
        [],
        [
            PriceOverride(
                model="big",
                effective_from=DAY,
                input_mtok=D(10),
                cached_input_mtok=D(1),
                output_mtok=D(30),
                batch_input_mtok=D(5),
                batch_output_mtok=D(15),
                context_window=100_000,
            ),
            PriceOverride(
                model="small",
                effective_from=DAY,
                input_mtok=D(1),
                output_mtok=D(2),
                context_window=4_000,
            ),
        ],
    )


def group(model: str, requests: int, input_each: int, output_each: int, **extra: object) -> dict:
    """One grouped-traffic row of `requests` identical requests."""
    row = {
        "model": model,
        "project": "",
        "feature": "",
        "status": 200,
        "batch": False,
        "requests": requests,
        "input_tokens": requests * input_each,
        "cached_input_tokens": 0,
        "cache_write_tokens": 0,
        "output_tokens": requests * output_each,
        "in_min": input_each,
        "in_max": input_each,
        "out_min": output_each,
        "out_max": output_each,
    }
    row.update(extra)
    return row


@pytest.fixture
def traffic() -> pd.DataFrame:
    """A: big, 100 x (1,000 in, 200 out) = $1.00 + $0.60 = $1.60.
    B: big, 10 x (50,000 in, 500 out) = $5.00 + $0.15 = $5.15 (too big for small's window).
    C: small, 50 x (200 in, 100 out) = $0.01 + $0.01 = $0.02.  Baseline $6.77."""
    rows = [
        group("big", 100, 1000, 200),
        group("big", 10, 50_000, 500),
        group("small", 50, 200, 100),
    ]
    return pd.DataFrame(rows, columns=list(TRAFFIC_COLUMNS))


def run(traffic: pd.DataFrame, book: PriceBook, *specs: str, days: int = 30) -> Simulation:
    """Simulate the parsed rules at DAY."""
    return simulate(traffic, [parse_rule(s) for s in specs], book, when=DAY, period_days=days)


def test_no_rules_scenario_equals_baseline(traffic: pd.DataFrame, book: PriceBook) -> None:
    result = simulate(traffic, [], book, when=DAY)
    assert result.baseline_usd == D("6.77")
    assert result.scenario_usd == D("6.77")
    assert result.savings_usd == 0
    assert result.requests == 160


def test_route_with_escalation_and_context_exclusion(
    traffic: pd.DataFrame, book: PriceBook
) -> None:
    result = run(traffic, book, "model=big,target=small,share=0.5,escalation=0.1")
    rule = result.rules[0]
    # A on small: 100,000 x $1/M + 20,000 x $2/M = $0.14.
    # A after: 0.5 x 1.60 + 0.5 x (0.14 + 0.1 x 1.60) = 0.80 + 0.15 = $0.95 -> saves $0.65.
    # B (50,000-token prompts) cannot fit small's 4,000 window: counted, not moved, still $5.15.
    assert rule.matched_requests == 110
    assert rule.requests_blocked == 10
    assert rule.requests_moved == 50
    assert rule.requests_escalated == 5
    assert rule.tokens_moved == 60_000  # half of A's 120,000 tokens
    assert rule.savings_usd == D("0.65")
    assert result.scenario_usd == D("6.12")  # 0.95 + 5.15 + 0.02
    assert result.savings_usd == D("0.65")


def test_break_even_escalation(traffic: pd.DataFrame, book: PriceBook) -> None:
    result = run(traffic, book, "model=big,target=small,share=0.5,escalation=0.1")
    # Savings at 0 % escalation: 0.5 x (1.60 - 0.14) = 0.73; each unit of escalation costs
    # 0.5 x 1.60 = 0.80, so savings reach zero at 0.73 / 0.80 = 0.9125.
    even = result.rules[0].break_even_escalation
    assert even == D("0.9125")
    at_even = run(traffic, book, f"model=big,target=small,share=0.5,escalation={even}")
    assert at_even.savings_usd == 0
    worse = run(traffic, book, "model=big,target=small,share=0.5,escalation=0.95")
    assert worse.savings_usd < 0


def test_first_match_wins_and_token_ranges(traffic: pd.DataFrame, book: PriceBook) -> None:
    result = run(
        traffic,
        book,
        "model=big,max_input_tokens=2000,target=small",
        "model=big,batch_share=1",
    )
    first, second = result.rules
    # A (1,000-token prompts) all to small: 1.60 -> 0.14. B all to batch: 2.50 + 0.075 = 2.575.
    assert (first.matched_requests, first.savings_usd) == (100, D("1.46"))
    assert (second.matched_requests, second.requests_to_batch) == (10, 10)
    assert second.savings_usd == D("2.575")
    assert result.savings_usd == D("4.035")


def test_batch_share_and_cache_uplift(traffic: pd.DataFrame, book: PriceBook) -> None:
    batch = run(traffic, book, "model=big,max_input_tokens=1000,batch_share=0.5")
    # A batch: 100,000 x $5/M + 20,000 x $15/M = $0.80; half moves: 0.80 + 0.40 = $1.20.
    assert batch.savings_usd == D("0.40")
    cached = run(traffic, book, "model=big,max_input_tokens=1000,cache_uplift_points=50")
    # 50 points of A's 100,000 input tokens become cached: 50,000 x $10/M + 50,000 x $1/M
    # + output $0.60 = $1.15 -> saves $0.45.
    assert cached.savings_usd == D("0.45")


def test_matching_on_project_feature_status_and_output() -> None:
    frame = pd.DataFrame(
        [
            group("big", 10, 100, 100, project="bot", feature="chat,triage"),
            group("big", 10, 100, 100, project="bot", feature="summaries"),
            group("big", 10, 100, 100, project="api", status=429),
            group("big", 10, 100, 5000, project="api"),
        ],
        columns=list(TRAFFIC_COLUMNS),
    )
    book = PriceBook(
        [], [PriceOverride("big", DAY, D(1), D(1)), PriceOverride("small", DAY, D(0), D(0))]
    )
    matched = {
        spec: run(frame, book, "model=big," + spec + ",target=small").rules[0].matched_requests
        for spec in (
            "project=bot",
            "feature=triage",
            "tag=summaries",
            "status=error",
            "status=429",
            "status=ok",
            "min_output_tokens=1000",
            "max_output_tokens=999",
        )
    }
    assert matched == {
        "project=bot": 20,
        "feature=triage": 10,
        "tag=summaries": 10,
        "status=error": 10,
        "status=429": 10,
        "status=ok": 30,
        "min_output_tokens=1000": 10,
        "max_output_tokens=999": 30,
    }


def test_dated_snapshot_ids_match_the_rule_model() -> None:
    book = PriceBook.from_snapshot()
    traffic = plan_traffic("gpt-4o-2024-08-06", 15_000, 1600, 400)
    result = simulate(
        traffic, [parse_rule("model=gpt-4o,target=gpt-4o-mini,share=0.67,escalation=0.05")], book
    )
    # The guide's example: 15,000 requests of 1,600 in / 400 out cost $120 on gpt-4o and $7.20
    # on gpt-4o-mini. 0.33 x 120 + 0.67 x (7.20 + 0.05 x 120) = 39.60 + 8.844 = $48.444.
    assert result.baseline_usd == D("120")
    assert result.scenario_usd == D("48.444")
    assert result.rules[0].break_even_escalation == D("0.94")  # 1 - 7.20 / 120
    models = result.models.set_index("model")
    assert models.loc["gpt-4o-mini", "requests_after"] == 10_050
    assert models.loc["gpt-4o", "requests_after"] == D("5452.5")  # 4,950 + 502.5 escalated


def test_every_logged_name_of_a_model_is_one_model_and_one_rule_scope() -> None:
    book = PriceBook.from_snapshot()
    traffic = pd.concat(
        [
            plan_traffic("gpt-4o-2024-08-06", 10_000, 1600, 400),
            plan_traffic("openai/gpt-4o", 5_000, 1600, 400),
        ],
        ignore_index=True,
    )
    rule = parse_rule("model=gpt-4o-2024-08-06,target=openai/gpt-4o-mini,share=1")
    result = simulate(traffic, [rule], book)
    # 15,000 gpt-4o requests ($120) all move to gpt-4o-mini ($7.20): one rule, one model row.
    assert result.rules[0].matched_requests == 15_000
    assert (result.baseline_usd, result.scenario_usd) == (D("120"), D("7.2"))
    assert sorted(result.models["model"]) == ["gpt-4o", "gpt-4o-mini"]


def test_per_month_scaling(traffic: pd.DataFrame, book: PriceBook) -> None:
    result = run(traffic, book, "model=big,target=small,share=0.5,escalation=0.1", days=7)
    assert result.monthly(result.savings_usd) == (D("0.65") * 30 / 7).quantize(D("1e-12"))
    assert result.savings_share == D("0.096011817")  # 0.65 / 6.77, to 1e-9


def test_unpriced_models_are_reported_not_counted(traffic: pd.DataFrame, book: PriceBook) -> None:
    frame = pd.concat([traffic, pd.DataFrame([group("mystery", 5, 10, 10)])], ignore_index=True)
    result = simulate(frame, [], book, when=DAY)
    assert result.baseline_usd == D("6.77")
    assert result.unpriced == {"mystery": 5}


def test_cut_points_include_thresholds_and_windows(book: PriceBook) -> None:
    inputs, outputs = cut_points(
        [
            parse_rule(
                "model=big,min_input_tokens=300,max_input_tokens=2500,max_output_tokens=70,"
                "target=small"
            )
        ],
        book,
        DAY,
    )
    assert {299, 2500, 4000} <= set(inputs)
    assert 70 in outputs


def test_suggestion_share_and_savings(traffic: pd.DataFrame, book: PriceBook) -> None:
    found = suggest(traffic, book, target="small", max_input_tokens=2000, when=DAY)
    # big is the only model dearer than small; 100 of its 110 requests are under 2,000 tokens.
    assert found.table["model"].tolist() == ["big"]
    assert (found.premium_requests, found.requests_under) == (110, 100)
    assert found.share_under == D("0.909090909")  # 100 / 110
    assert found.savings_usd == D("1.46")  # A: 1.60 -> 0.14


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("model=gpt-4o,target=x,share=1.5", "between 0 and 1"),
        ("model=gpt-4o,colour=blue,target=x", "unknown rule key"),
        ("model=gpt-4o", "does nothing"),
        ("model=gpt-4o,escalation=0.1,batch_share=0.2", "escalation needs"),
        ("min_input_tokens=5,max_input_tokens=2,target=x", "larger than"),
        ("max_input_tokens=lots,target=x", "whole number"),
        ("model gpt-4o", "key=value"),
        ("status=teapot,target=x", "status must be"),
    ],
)
def test_bad_rules_say_why(spec: str, reason: str) -> None:
    with pytest.raises(RuleError, match=reason):
        parse_rule(spec)


def test_rule_round_trip_and_percent_shares() -> None:
    rule = parse_rule(
        "model=gpt-4o,max_input_tokens=2000,target=gpt-4o-mini,share=67%,escalation=0.05"
    )
    assert rule.share == D("0.67")
    assert Rule.from_dict(rule.to_dict()) == rule
    assert parse_rule("model=a,target=b").share == 1  # routing without a share moves everything


def test_unknown_target_is_an_error(traffic: pd.DataFrame, book: PriceBook) -> None:
    with pytest.raises(RuleError, match="rule 1: target model 'nonexistent' is not in the price"):
        run(traffic, book, "model=big,target=nonexistent")
    assert target_problem(parse_rule("model=big,target=small"), book, DAY) is None


def test_variance_by_hand(book: PriceBook) -> None:
    plan = plan_traffic("big", 100, 1000, 200)  # $1.60
    actual = pd.DataFrame([group("big", 150, 1200, 200), group("small", 50, 400, 100)])
    result = plan_vs_actual(plan, actual, book, plan_when=DAY, actual_usd=D("3.00"))
    # Volume: 200 requests at the plan's $0.016 each = $3.20 -> +1.60.
    # Tokens: all 200,000 in / 35,000 out on big = 2.00 + 1.05 = $3.05 -> -0.15.
    # Mix: big 180,000 / 30,000 = $2.70, small 20,000 / 5,000 = $0.03 -> $2.73 -> -0.32.
    # Price: charged $3.00 -> +0.27.  Total +1.40 = 3.00 - 1.60.
    assert result.effects == {
        "Volume": D("1.60"),
        "Tokens per request": D("-0.15"),
        "Model mix": D("-0.32"),
        "Price": D("0.27"),
    }
    assert sum(result.effects.values()) == result.difference_usd == D("1.40")


@pytest.mark.parametrize(("plan_requests", "actual_requests"), [(3, 7), (7, 3), (11, 13)])
def test_variance_parts_sum_exactly(
    book: PriceBook, plan_requests: int, actual_requests: int
) -> None:
    plan = plan_traffic(
        "big", plan_requests, 777, 333, cache_hit_share=D("0.3"), batch_share=D("0.25")
    )
    actual = pd.DataFrame(
        [group("big", actual_requests, 1234, 321), group("small", actual_requests * 2, 555, 99)]
    )
    actual["cost_pusd"] = [123_456_789_012, 9_876_543]
    result = plan_vs_actual(plan, actual, book, plan_when=DAY)
    assert result.actual_usd == D("0.123466665555")
    assert sum(result.effects.values(), D(0)) == result.actual_usd - result.plan_usd
    table = result.table()
    assert table["step"].tolist() == [
        "Plan",
        "Volume",
        "Tokens per request",
        "Model mix",
        "Price",
        "Actual",
    ]


def test_rule_from_form_percentages_and_blank_conditions() -> None:
    rule = rule_from_form(
        model="gpt-4o",
        status="ok",
        tokens=(0, 2000, 0, 0),
        target="gpt-4o-mini",
        share_pct=67.0,
        escalation_pct=5.0,
    )
    assert rule == parse_rule(
        "model=gpt-4o,status=ok,max_input_tokens=2000,target=gpt-4o-mini,share=0.67,escalation=0.05"
    )
    batch_only = rule_from_form(project="bot", target="gpt-4o-mini", share_pct=0, batch_pct=50.0)
    assert (batch_only.target, batch_only.batch_share) == ("", D("0.5"))
    with pytest.raises(RuleError, match="does nothing"):
        rule_from_form(model="gpt-4o")


LONG = Rates(
    "custom",
    "long",
    D(1),
    D(2),
    batch_input_mtok=D("0.5"),
    batch_output_mtok=D(1),
    tiers=(
        LongContextTier(100_000, D(3), None, None, D(4)),
        LongContextTier(200_000, D(5), None, None, D(6)),
    ),
)


class LongBook(PriceBook):
    """The test book plus `long`, a model with two long-context tiers (overrides have none)."""

    def price_at(self, model_ref, when=None, *, service_tier=None):
        """`long` at its tiered rates, everything else as the book says."""
        if model_ref == "long":
            return LONG
        return super().price_at(model_ref, when, service_tier=service_tier)


def test_each_group_pays_its_own_long_context_tier(book: PriceBook) -> None:
    traffic = pd.DataFrame(
        [
            group("long", 10, 50_000, 100),
            group("long", 10, 150_000, 100),
            group("long", 10, 250_000, 100),
            group("long", 10, 250_000, 100, batch=True),
        ],
        columns=list(TRAFFIC_COLUMNS),
    )
    long_book = LongBook([], book.overrides)
    result = simulate(traffic, [], long_book, when=DAY)
    # 500,000 x $1/M + 1,000 x $2/M = 0.502; 1.5M x $3/M + 1,000 x $4/M = 4.504;
    # 2.5M x $5/M + 1,000 x $6/M = 12.506; batch has no tiers: 2.5M x $0.50/M + 1,000 x $1/M
    # = 1.251.  Baseline 18.763.
    assert result.baseline_usd == D("18.763")
    half = simulate(traffic, [parse_rule("model=long,batch_share=0.5")], long_book, when=DAY)
    # Half of each real-time group moves to batch (0.251, 0.751, 1.251 at batch rates):
    # 0.3765 + 2.6275 + 6.8785, and the batch group stays 1.251 -> 11.1335.
    assert half.scenario_usd == D("11.1335")
    assert half.savings_usd == D("7.6295")
