"""Reconciliation of computed vs billed cost, on real SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from core.pricing import PriceBook
from db.imports import store_costs_page, store_usage_page
from db.ingest import ingest_records
from db.reconcile import (
    OTHER_ITEMS,
    Evidence,
    canonical_model,
    imported_range,
    is_flagged,
    likely_cause,
    parse_line_item,
    reconcile,
)
from tests.actors import ADMIN
from tests.integrations.fake_openai import bucket, cost_result, page, usage_result

D1, D2, D3, D4 = (date(2026, 11, 20) + timedelta(days=n) for n in range(4))
MINI = "gpt-4o-mini-2024-07-18"


def calls(day: date, model: str, n: int, input_tokens: int, output_tokens: int) -> list[dict]:
    """`n` logged calls of one size."""
    return [
        {
            "timestamp": f"{day.isoformat()}T12:00:{i % 60:02d}Z",
            "request_id": f"req_{day.isoformat()}_{model}_{i}",
            "model": model,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "latency_ms": 800,
            "status": 200,
        }
        for i in range(n)
    ]


@pytest.fixture
def book() -> PriceBook:
    return PriceBook.from_snapshot()


@pytest.fixture
def loaded(engine: Engine) -> Engine:
    """Four days of logs, Usage API buckets and billed costs, one story per day."""
    # gpt-4o-mini: 0.15 in / 0.60 out per 1M; priority tier 0.25 / 1.00; gpt-4o: 2.50 / 10.00.
    # One mini call of 1000 in / 500 out = 150 + 300 = 450 micro-USD; 10 calls = $0.0045.
    # One gpt-4o call of 1000 in / 100 out = 2500 + 1000 = 3500 micro-USD; 4 calls = $0.014.
    logs = calls(D1, MINI, 10, 1000, 500) + calls(D2, MINI, 10, 1000, 500)
    logs += calls(D3, MINI, 10, 1000, 500) + calls(D4, "gpt-4o", 4, 1000, 100)
    logs += calls(D4, MINI, 10, 1000, 500)
    report = ingest_records(engine, logs, source="app", file_name="app.jsonl", actor=ADMIN)
    assert report.accepted == 44
    usage = [
        bucket(D1, [usage_result(MINI, 10, 10_000, 5_000)]),
        bucket(D2, [usage_result(MINI, 12, 12_000, 6_000)]),  # 2 calls never logged
        bucket(D3, [usage_result(MINI, 10, 10_000, 5_000, service_tier="priority")]),
        bucket(D4, [usage_result("gpt-4o-2024-08-06", 4, 4_000, 400), usage_result(MINI, 10, 10_000, 5_000)]),
    ]  # fmt: skip
    costs = [
        # D1 matches: 10,000 x 0.15 = $0.0015 input + 5,000 x 0.60 = $0.003 output.
        bucket(D1, [cost_result(f"{MINI}, input", 0.0015), cost_result(f"{MINI}, output", 0.003)]),
        # D2: the 12 calls OpenAI counted: 12,000 x 0.15 + 6,000 x 0.60 = 0.0018 + 0.0036.
        bucket(D2, [cost_result(f"{MINI}, input", 0.0018), cost_result(f"{MINI}, output", 0.0036)]),
        # D3 priority: 10,000 x 0.25 + 5,000 x 1.00 = 0.0025 + 0.005 = $0.0075.
        bucket(D3, [cost_result(f"priority | {MINI}, input", "0.0025"),
                    cost_result(f"priority | {MINI}, output", "0.005")]),
        # D4: gpt-4o billed 10 % under list ($0.0126), web search $0.05, mini 1.1 % over list.
        bucket(D4, [cost_result("gpt-4o-2024-08-06, input", 0.009),
                    cost_result("gpt-4o-2024-08-06, output", 0.0036),
                    cost_result("web search tool calls", 0.05),
                    cost_result(f"{MINI}, input_tokens", 0.00155),
                    cost_result(f"{MINI}, output_tokens", 0.003)]),
    ]  # fmt: skip
    store_usage_page(engine, page(usage))
    store_costs_page(engine, page(costs))
    return engine


def test_rows_per_day_and_model_with_causes(loaded: Engine, book: PriceBook) -> None:
    result = reconcile(loaded, book, D1, D4)
    rows = {(r.day, r.model): r for r in result.rows.itertuples()}
    assert len(rows) == 6
    ok = rows[(D1, "gpt-4o-mini")]
    assert (ok.computed_pusd, ok.billed_pusd, ok.flagged) == (4500 * 10**6, 4500 * 10**6, False)
    assert ok.cause == "" and ok.diff_share == 0.0

    missing = rows[(D2, "gpt-4o-mini")]
    assert (missing.logged_requests, missing.usage_requests) == (10, 12)
    assert missing.diff_pusd == (4500 - 5400) * 10**6  # $0.0045 computed - $0.0054 billed
    assert missing.diff_share == pytest.approx(-1 / 6)
    assert missing.flagged and missing.cause == "calls missing from the logs (2 of 12)"

    tier = rows[(D3, "gpt-4o-mini")]
    assert tier.billed_pusd == 7500 * 10**6 and tier.flagged
    assert tier.cause == "service tier billed at other rates (priority)"

    negotiated = rows[(D4, "gpt-4o")]  # dated snapshot in usage and costs meets the alias in logs
    assert (negotiated.computed_pusd, negotiated.billed_pusd) == (14_000 * 10**6, 12_600 * 10**6)
    assert negotiated.cause == "price differs from the price book (negotiated or changed price)"

    other = rows[(D4, OTHER_ITEMS)]
    assert other.billed_pusd == 50_000 * 10**6 and other.computed_pusd == 0 and other.flagged
    assert other.cause.startswith("non-token line items")

    close = rows[(D4, "gpt-4o-mini")]  # $0.0045 vs $0.00455: 1.1 % apart, inside 2 %
    assert not close.flagged and close.cause == ""
    assert (close.logged_as, negotiated.logged_as, other.logged_as) == (MINI, "gpt-4o", "")


def test_totals_and_by_day(loaded: Engine, book: PriceBook) -> None:
    result = reconcile(loaded, book, D1, D4)
    # computed: 3 x 0.0045 (D1-D3) + 0.014 + 0.0045 (D4) = 0.032
    assert result.computed_usd == Decimal("0.032")
    # billed: 0.0045 + 0.0054 + 0.0075 + (0.0126 + 0.05 + 0.00455) = 0.08455
    assert result.billed_usd == Decimal("0.08455")
    assert result.flagged == 4
    days = result.by_day().set_index("day")
    assert days.loc[D4, "computed_pusd"] == 18_500 * 10**6
    assert days.loc[D4, "flagged"] == 2


def test_a_model_logged_under_two_names_is_one_row(engine: Engine, book: PriceBook) -> None:
    # Two calls logged as gpt-4o and two as its dated snapshot, 1,000 in / 100 out each:
    # 4 x (1,000 x 2.50 + 100 x 10) / 1M = 4 x $0.0035 = $0.014, billed as the dated id.
    logs = calls(D1, "gpt-4o", 2, 1000, 100) + calls(D1, "gpt-4o-2024-08-06", 2, 1000, 100)
    assert (
        ingest_records(engine, logs, source="app", file_name="a.jsonl", actor=ADMIN).accepted == 4
    )
    store_usage_page(engine, page([bucket(D1, [usage_result("gpt-4o-2024-08-06", 4, 4000, 400)])]))
    store_costs_page(engine, page([bucket(D1, [cost_result("gpt-4o-2024-08-06, input", 0.01),
                                              cost_result("gpt-4o-2024-08-06, output", 0.004)])]))  # fmt: skip
    (row,) = reconcile(engine, book, D1, D1).rows.itertuples()
    assert (row.model, row.logged_as) == ("gpt-4o", "gpt-4o, gpt-4o-2024-08-06")
    assert (row.logged_requests, row.usage_requests) == (4, 4)
    assert row.computed_pusd == row.billed_pusd == 14_000 * 10**6 and not row.flagged


def test_range_limits_rows(loaded: Engine, book: PriceBook) -> None:
    result = reconcile(loaded, book, D2, D2)
    assert list(result.rows["day"]) == [D2]
    assert imported_range(loaded) == (D1, D4)


def test_tolerance_is_configurable(loaded: Engine, book: PriceBook) -> None:
    assert reconcile(loaded, book, D4, D4, tolerance_share=0.2).flagged == 1  # only web search


def test_empty_database(engine: Engine, book: PriceBook) -> None:
    result = reconcile(engine, book, D1, D4)
    assert result.is_empty and result.flagged == 0 and result.billed_usd == 0
    assert result.by_day().empty
    assert imported_range(engine) is None


@pytest.mark.parametrize(
    ("line_item", "expected"),
    [
        ("gpt-4o-mini-2024-07-18, input", ("", "gpt-4o-mini-2024-07-18")),
        ("gpt-4o-mini-2024-07-18, cached input", ("", "gpt-4o-mini-2024-07-18")),
        ("gpt-5-nano, input_tokens", ("", "gpt-5-nano")),
        ("priority | gpt-5.6-sol, output, long context", ("priority", "gpt-5.6-sol")),
        ("gpt-audio-mini-2025-12-15 audio, input", ("", "gpt-audio-mini-2025-12-15")),
        ("whisper-1, audio", ("", "")),
        ("web search tool calls", ("", "")),
        ("Vector storage", ("", "")),
        ("", ("", "")),
    ],
)
def test_parse_line_item(line_item: str, expected: tuple[str, str]) -> None:
    assert parse_line_item(line_item) == expected


def test_canonical_model(book: PriceBook) -> None:
    assert canonical_model("gpt-4o-2024-08-06", book) == "gpt-4o"
    assert canonical_model("gpt-4o-mini", book) == "gpt-4o-mini"
    assert canonical_model("openai/gpt-4o", book) == "gpt-4o"
    assert canonical_model(" My-Fine-Tune ", book) == "My-Fine-Tune"  # as ingest stores it
    assert canonical_model("", book) == OTHER_ITEMS


def _evidence(**changes: object) -> Evidence:
    base = dict(logged_requests=10, usage_requests=10, unpriced_requests=0, computed_pusd=100,
                usage_pusd=100, billed_pusd=120)  # fmt: skip
    return Evidence(**{**base, **changes})  # type: ignore[arg-type]


def test_likely_cause_rules() -> None:
    assert likely_cause(_evidence(price_change=date(2026, 11, 1))) == "price change on 2026-11-01"
    assert likely_cause(_evidence(usage_pusd=120)).startswith("logged token counts or prices")
    assert likely_cause(_evidence(batch=True)) == "batch requests billed at batch rates"
    assert likely_cause(_evidence(usage_requests=0, billed_pusd=0)).startswith("nothing billed")
    assert likely_cause(_evidence(unpriced_requests=3)).startswith("model not in the price book")
    assert likely_cause(_evidence(logged_requests=12)).startswith("more calls logged")
    both = likely_cause(_evidence(usage_requests=11, tiers=("flex",)))
    assert (
        both == "calls missing from the logs (1 of 11); service tier billed at other rates (flex)"
    )


def test_flag_threshold_is_two_percent_of_billed() -> None:
    assert not is_flagged(102, 100, 0.02)  # exactly 2 %: not over
    assert is_flagged(103, 100, 0.02)
    assert is_flagged(97, 100, 0.02)
    assert is_flagged(1, 0, 0.02) and not is_flagged(0, 0, 0.02)
