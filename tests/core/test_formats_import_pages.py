"""Provider report pages and gateway daily tables read from files: Anthropic's usage and cost
reports, LiteLLM's daily spend tables; detection, counts, exact cents, refusals with reasons."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.logs import LogFile
from core.logs.formats import classify
from core.logs.formats.anthropic_admin import cost_rows, usage_rows
from core.logs.formats.litellm_daily import rows_of
from core.logs.rules import RecordError
from integrations.settings import SettingError, bedrock_models, format_state
from tests.integrations import fake_anthropic as ant
from tests.integrations.fake_openai import bucket, page, usage_result

DAY = date(2026, 11, 20)
HAIKU = "claude-haiku-4-5-20251001"


def report(*buckets: dict) -> dict:
    return {"data": list(buckets), "has_more": False, "next_page": None}


def test_each_page_is_told_apart() -> None:
    usage = report(ant.bucket(DAY, [ant.usage_result(HAIKU, 1, 1)]))
    costs = report(ant.bucket(DAY, [ant.cost_result("1", model=HAIKU, token_type="output_tokens")]))
    openai = page([bucket(DAY, [usage_result("gpt-4o-mini", 1, 1, 1)])])
    daily = {"date": "2025-06-01", "api_key": "k", "prompt_tokens": 1, "completion_tokens": 1,
             "api_requests": 1}  # fmt: skip
    assert [classify(r) for r in (usage, costs, openai, daily, report())] == [
        "anthropic_usage", "anthropic_costs", "usage_api", "litellm_daily", "anthropic_usage",
    ]  # fmt: skip
    assert classify({"data": [], "has_more": False}) is None  # no cursor: not a report page


def test_usage_counts_and_summed_context_windows() -> None:
    rows = usage_rows(report(ant.bucket(DAY, [
        ant.usage_result(HAIKU, 700, 90, read=200, write_5m=60, write_1h=40, window="0-200k"),
        ant.usage_result(HAIKU, 300, 10, window="200k-1M"),
        ant.usage_result(HAIKU, 50, 5, tier="batch", workspace="wrkspc_1"),
    ])))  # fmt: skip
    first, batch = rows
    # input: 700 + 200 read + 60 + 40 written, plus 300 in the long window = 1,300
    assert (first["input_tokens"], first["cached_input_tokens"]) == (1_300, 200)
    assert (first["cache_write_tokens"], first["output_tokens"], first["requests"]) == (100, 100, 0)
    assert first["start_time"] == datetime(2026, 11, 20, tzinfo=UTC)
    assert (batch["batch"], batch["service_tier"], batch["project_id"]) == (
        True,
        "batch",
        "wrkspc_1",
    )


@given(st.decimals(min_value=0, max_value=10**9, places=10, allow_nan=False))
def test_cents_become_dollars_exactly(cents: Decimal) -> None:
    (row,) = cost_rows(report(ant.bucket(DAY, [ant.cost_result(str(cents), model=HAIKU,
                                                               token_type="output_tokens")])))  # fmt: skip
    assert Decimal(row["amount"]) * 100 == cents


def test_cost_lines_read_as_line_items() -> None:
    rows = cost_rows(report(ant.bucket(DAY, [
        ant.cost_result("12.5", model=HAIKU, token_type="output_tokens", tier="batch"),
        ant.cost_result("0.5", cost_type="web_search", description="Web search"),
        ant.cost_result("0.25", cost_type="web_search", description="Web search"),
    ])))  # fmt: skip
    assert [(r["line_item"], r["model"], r["amount"]) for r in rows] == [
        (f"batch | {HAIKU}, output_tokens, 0-200k", HAIKU, "0.125"),
        ("Web search", "", "0.0075"),  # two lines with one stored key: 0.5 + 0.25 cents
    ]


@pytest.mark.parametrize(
    ("result", "field"),
    [
        (ant.usage_result(HAIKU, -1, 1), "uncached_input_tokens"),
        (ant.usage_result(HAIKU, 1, 1.5), "output_tokens"),
        ({**ant.cost_result("ten"), "model": None}, "amount"),
        ({**ant.cost_result("1"), "currency": "EUR"}, "currency"),
    ],
)
def test_unusable_values_are_refused_with_the_field(result: dict, field: str) -> None:
    read = cost_rows if "amount" in result else usage_rows
    with pytest.raises(RecordError) as refused:
        read(report(ant.bucket(DAY, [result])))
    assert refused.value.field == field


def test_a_bad_page_in_a_file_is_reported_and_the_others_kept() -> None:
    good = report(ant.bucket(DAY, [ant.usage_result(HAIKU, 10, 1)]))
    bad = {**report(ant.bucket(DAY, [])), "data": [{"starting_at": "yesterday", "results": []}]}
    data = b"\n".join(orjson.dumps(p) for p in (good, bad, good))
    pages = list(LogFile(io.BytesIO(data), file_name="pages.jsonl").pages())
    assert [line for line, _rows in pages] == [1, 2, 3]
    assert isinstance(pages[1][1], RecordError) and pages[1][1].field == "starting_at"
    assert pages[0][1] == pages[2][1] and len(pages[0][1]) == 1


def test_litellm_daily_rows() -> None:
    row = {"date": "2025-06-01", "api_key": "hash-1", "model": None, "model_group": "fast",
           "custom_llm_provider": None, "prompt_tokens": 10, "completion_tokens": 2,
           "cache_read_input_tokens": 4, "api_requests": 1, "user_id": "u-1", "spend": 9.9}  # fmt: skip
    (stored,) = rows_of(row)
    assert (stored["provider"], stored["model"], stored["user_id"]) == ("unknown", "fast", "u-1")
    assert (stored["input_tokens"], stored["cached_input_tokens"]) == (10, 4)
    other = rows_of({**row, "endpoint": "/v1/responses"})[0]["api_key_id"]
    assert other != stored["api_key_id"]  # LiteLLM keys its rows by endpoint too
    with pytest.raises(RecordError, match="YYYY-MM-DD"):
        rows_of({**row, "date": "June 1"})


def test_bedrock_mapping_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COSTDESK_BEDROCK_MODELS", raising=False)
    secrets = tmp_path / "secrets.toml"
    assert bedrock_models(path=secrets) == {} and format_state(path=secrets) == {}
    secrets.write_text('[costdesk.bedrock_models]\n"arn:aws:bedrock:x" = "claude-3-7-sonnet"\n')
    assert format_state(path=secrets) == {
        "bedrock_models": {"arn:aws:bedrock:x": "claude-3-7-sonnet"}
    }
    monkeypatch.setenv("COSTDESK_BEDROCK_MODELS", '{"arn:y": "claude-haiku-4-5"}')
    assert bedrock_models(path=secrets) == {"arn:y": "claude-haiku-4-5"}  # the environment wins
    monkeypatch.setenv("COSTDESK_BEDROCK_MODELS", '{"arn:y": ""}')
    with pytest.raises(SettingError, match="COSTDESK_BEDROCK_MODELS"):
        bedrock_models(path=secrets)
