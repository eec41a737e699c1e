"""Reconciliation of Anthropic: logged calls vs Anthropic's usage and cost reports (and a
gateway's daily tables), kept apart from OpenAI's; real SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from core.pricing import PriceBook
from db.imports import store_page
from db.ingest import ingest_records
from db.reconcile import OTHER_ITEMS, default_source, reconcile, usage_sources
from tests.actors import ADMIN
from tests.db.test_reconcile import calls
from tests.integrations import fake_anthropic as ant
from tests.integrations.fake_openai import bucket, cost_result, page, usage_result

D1, D2, D3, D4 = (date(2026, 11, 20) + timedelta(days=n) for n in range(4))
HAIKU, SONNET = "claude-haiku-4-5-20251001", "claude-sonnet-4-5-20250929"
MINI = "gpt-4o-mini-2024-07-18"
PICOS = 10**12


def anthropic_page(buckets: list[dict]) -> dict:
    return {"data": buckets, "has_more": False, "next_page": None}


@pytest.fixture
def book() -> PriceBook:
    return PriceBook.from_snapshot()


@pytest.fixture
def loaded(engine: Engine) -> Engine:
    """Four days, one story each; OpenAI's logs and pages on the first day beside them."""
    # Haiku 4.5: $1 in / $5 out per 1M. One call of 1,000 in / 200 out = $0.001 + $0.001.
    # Sonnet 4.5: $3 / $15 per 1M ($1.50 / $7.50 batch); above 200k input: $6 / $22.50.
    logs = calls(D1, HAIKU, 10, 1000, 200) + calls(D2, HAIKU, 10, 1000, 200)
    logs += calls(D3, "claude-sonnet-4-5", 4, 1000, 100) + calls(D4, SONNET, 100, 3000, 100)
    logs += calls(D1, MINI, 10, 1000, 500)
    assert (
        ingest_records(engine, logs, source="app", file_name="app.jsonl", actor=ADMIN).accepted
        == 134
    )
    usage = [
        ant.bucket(D1, [ant.usage_result(HAIKU, 10_000, 2_000)]),
        ant.bucket(D2, [ant.usage_result(HAIKU, 15_000, 3_000)]),  # 6,000 tokens never logged
        ant.bucket(D3, [ant.usage_result(SONNET, 4_000, 400, tier="batch")]),
        ant.bucket(D4, [ant.usage_result(SONNET, 300_000, 10_000)]),  # 100 calls, summed
    ]
    costs = [
        ant.bucket(D1, [ant.cost_result("1.0", model=HAIKU, token_type="uncached_input_tokens"),
                        ant.cost_result("1.0", model=HAIKU, token_type="output_tokens")]),
        ant.bucket(D2, [ant.cost_result("1.5", model=HAIKU, token_type="uncached_input_tokens"),
                        ant.cost_result("1.5", model=HAIKU, token_type="output_tokens")]),
        # 4,000 x $1.50 = 0.6 cents; 400 x $7.50 = 0.3 cents.
        ant.bucket(D3, [ant.cost_result("0.6", model=SONNET, token_type="uncached_input_tokens", tier="batch"),
                        ant.cost_result("0.3", model=SONNET, token_type="output_tokens", tier="batch")]),
        # 300,000 x $3 = 90 cents; 10,000 x $15 = 15 cents; a web search line of 1 cent.
        ant.bucket(D4, [ant.cost_result("90", model=SONNET, token_type="uncached_input_tokens"),
                        ant.cost_result("15", model=SONNET, token_type="output_tokens"),
                        ant.cost_result("1.00", cost_type="web_search", description="Web search")]),
    ]  # fmt: skip
    store_page(engine, "anthropic_usage", anthropic_page(usage), actor=ADMIN)
    store_page(engine, "anthropic_costs", anthropic_page(costs), actor=ADMIN)
    store_page(
        engine,
        "usage_api",
        page([bucket(D1, [usage_result(MINI, 10, 10_000, 5_000)])]),
        actor=ADMIN,
    )
    store_page(engine, "costs_api", page([bucket(D1, [cost_result(f"{MINI}, input", 0.0015),
                                                      cost_result(f"{MINI}, output", 0.003)])]), actor=ADMIN)  # fmt: skip
    return engine


def test_rows_per_day_and_model_with_causes(loaded: Engine, book: PriceBook) -> None:
    result = reconcile(loaded, book, D1, D4, provider="anthropic")
    assert result.usage_source == "anthropic-usage"
    rows = {(r.day, r.model): r for r in result.rows.itertuples()}
    assert set(rows) == {
        (D1, "claude-haiku-4-5"), (D2, "claude-haiku-4-5"), (D3, "claude-sonnet-4-5"),
        (D4, "claude-sonnet-4-5"), (D4, OTHER_ITEMS),
    }  # fmt: skip
    ok = rows[(D1, "claude-haiku-4-5")]  # 10 x ($0.001 + $0.001) = $0.02 each way
    assert (ok.computed_pusd, ok.usage_pusd, ok.billed_pusd) == (2 * PICOS // 100,) * 3
    assert not ok.flagged and ok.logged_as == HAIKU and ok.usage_requests == 0

    missing = rows[(D2, "claude-haiku-4-5")]  # $0.02 computed vs 1.5 + 1.5 cents billed
    assert (missing.logged_tokens, missing.usage_tokens) == (12_000, 18_000)
    assert missing.diff_share == pytest.approx(-1 / 3)
    assert missing.cause == "tokens missing from the logs (6,000 of 18,000)"

    batch = rows[(D3, "claude-sonnet-4-5")]  # 4 x (1,000 x $3 + 100 x $15) / 1M = $0.018
    assert (batch.computed_pusd, batch.billed_pusd) == (18 * PICOS // 1000, 9 * PICOS // 1000)
    assert batch.usage_pusd == batch.billed_pusd  # the report's tokens at batch rates
    assert batch.cause == "batch requests billed at batch rates"

    summed = rows[(D4, "claude-sonnet-4-5")]  # 300,000 in summed: still base rates, $1.05
    assert summed.usage_pusd == summed.billed_pusd == summed.computed_pusd == 105 * PICOS // 100
    assert not summed.flagged
    assert rows[(D4, OTHER_ITEMS)].billed_pusd == PICOS // 100


def test_totals_and_providers_kept_apart(loaded: Engine, book: PriceBook) -> None:
    anthropic = reconcile(loaded, book, D1, D4, provider="anthropic")
    # computed: 0.02 + 0.02 + 0.018 + 1.05 = 1.108; billed 0.02 + 0.03 + 0.009 + 1.05 + 0.01
    assert (anthropic.computed_usd, anthropic.billed_usd) == (Decimal("1.108"), Decimal("1.119"))
    assert anthropic.flagged == 3
    openai = reconcile(loaded, book, D1, D4)  # OpenAI's: only the mini calls and its pages
    assert list(openai.rows["model"]) == ["gpt-4o-mini"]
    assert (openai.computed_usd, openai.billed_usd) == (Decimal("0.0045"), Decimal("0.0045"))


def test_a_gateways_daily_table_is_a_second_usage_report(loaded: Engine, book: PriceBook) -> None:
    row = {"date": D1.isoformat(), "api_key": "hashed-key", "model": HAIKU,
           "custom_llm_provider": "anthropic", "prompt_tokens": 12_000, "completion_tokens": 2_000,
           "api_requests": 10, "spend": 0.5}  # fmt: skip
    store_page(loaded, "litellm_daily", row, actor=ADMIN)
    assert usage_sources(loaded) == {
        "anthropic": ["anthropic-usage", "litellm-daily"],
        "openai": ["openai-usage"],
    }
    assert default_source(loaded, "anthropic") == "anthropic-usage"
    own = reconcile(loaded, book, D1, D1, provider="anthropic")
    assert list(own.rows["usage_requests"]) == [0]  # the provider's report counts no requests
    gateway = reconcile(loaded, book, D1, D1, provider="anthropic", usage_source="litellm-daily")
    (line,) = gateway.rows.itertuples()
    assert (line.usage_requests, line.usage_tokens) == (10, 14_000)
    # 12,000 x $1 + 2,000 x $5 = $0.022 at the book's price (LiteLLM's own $0.50 never read)
    assert line.usage_pusd == 22 * PICOS // 1000
