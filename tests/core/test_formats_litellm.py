"""LiteLLM: StandardLoggingPayload JSON lines and LiteLLM_SpendLogs CSV, read and priced."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from core.logs.formats.litellm import prompt_total
from tests.core.gateway_samples import (
    COMPLETION_TEXT,
    KEY_ALIAS,
    KEY_HASH,
    PROMPT_TEXT,
    assert_private,
    cost_usd,
    counts,
    csv_file,
    gz,
    jsonl,
)
from tests.core.test_logs import read

START = 1748772000.0  # 2025-06-01T10:00:00Z


def payload(request_id: str, **overrides: Any) -> dict[str, Any]:
    """A StandardLoggingPayload as LiteLLM's proxy logs it (docs/proxy/logging_spec.md)."""
    record = {
        "id": request_id,
        "trace_id": "trace-1",
        "call_type": "acompletion",
        "response_cost": 0.999,  # the gateway's own price: never read
        "status": "success",
        "total_tokens": 2300,
        "prompt_tokens": 2000,
        "completion_tokens": 300,
        "startTime": START,
        "endTime": START + 1.25,
        "completionStartTime": START + 0.4,
        "model": "gpt-4o-mini",
        "model_group": "fast-chat",
        "model_id": "deploy-1",
        "custom_llm_provider": "openai",
        "api_base": "https://api.openai.com/v1",
        "metadata": {
            "user_api_key_hash": KEY_HASH,
            "user_api_key_alias": KEY_ALIAS,
            "user_api_key_team_id": "team-7",
            "user_api_key_team_alias": "search",
            "user_api_key_user_id": "owner-1",
            "usage_object": {
                "prompt_tokens": 2000,
                "completion_tokens": 300,
                "prompt_tokens_details": {"cached_tokens": 1536},
                "completion_tokens_details": {"reasoning_tokens": 0},
            },
        },
        "cache_hit": False,
        "request_tags": ["chat", "beta"],
        "end_user": "u-42",
        "messages": [{"role": "user", "content": PROMPT_TEXT}],
        "response": {
            "id": request_id,
            "object": "chat.completion",
            "choices": [{"message": {"content": COMPLETION_TEXT}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 2000, "completion_tokens": 300},
        },
        "model_parameters": {"max_tokens": 400},
        "error_str": None,
        "error_information": None,
    }
    return {**record, **overrides}


def anthropic_usage(prompt: int, read: int, write: int, completion: int, thinking: int) -> dict:
    """LiteLLM's usage_object for an Anthropic call (BerriAI/litellm#11364 shows its shape)."""
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "prompt_tokens_details": {"cached_tokens": read, "cache_creation_tokens": write},
        "cache_read_input_tokens": read,
        "cache_creation_input_tokens": write,
        "completion_tokens_details": {"reasoning_tokens": thinking},
    }


def with_usage(request_id: str, usage: dict, **overrides: Any) -> dict[str, Any]:
    """A Claude payload carrying `usage` (prompt and completion counts taken from it)."""
    base = payload(request_id, model="claude-3-7-sonnet-20250219", custom_llm_provider="anthropic")
    metadata = {**base["metadata"], "usage_object": usage}
    return {
        **base,
        "prompt_tokens": usage["prompt_tokens"],
        "completion_tokens": usage["completion_tokens"],
        "metadata": metadata,
        **overrides,
    }


CURRENT = with_usage("ll-2", anthropic_usage(98805, 66360, 32435, 5120, 1710))
# A release that left every cache count out of prompt_tokens (anthropic_messages, litellm#23342).
WITHOUT_CACHE = with_usage("ll-3", anthropic_usage(12, 2495, 0, 50, 0))
# A release that kept cache reads in and left cache writes out (Bedrock, litellm#15270).
WITHOUT_WRITES = with_usage("ll-4", anthropic_usage(3010, 3000, 2000, 80, 0))
FAILED = payload(
    "ll-5",
    status="failure",
    prompt_tokens=0,
    completion_tokens=0,
    response=None,
    metadata={"user_api_key_team_alias": "search", "usage_object": None},
    error_information={"error_code": "429", "error_class": "RateLimitError"},
)
CACHE_HIT = payload("ll-6", cache_hit=True)
RECORDS = [payload("ll-1"), CURRENT, WITHOUT_CACHE, WITHOUT_WRITES, FAILED, CACHE_HIT]


def spend_log_row(request_id: str, **overrides: Any) -> dict[str, Any]:
    """A LiteLLM_SpendLogs row as exported from PostgreSQL (schema.prisma's columns)."""
    row = {
        "request_id": request_id,
        "call_type": "acompletion",
        "api_key": KEY_HASH,
        "spend": 0.0012,
        "total_tokens": 1300,
        "prompt_tokens": 1200,
        "completion_tokens": 100,
        "startTime": "2025-06-01 10:00:00.123",
        "endTime": "2025-06-01 10:00:01.123",
        "request_duration_ms": "",
        "model": "gpt-4o-mini",
        "model_group": "fast-chat",
        "custom_llm_provider": "openai",
        "user": "owner-1",
        "metadata": {
            "user_api_key": KEY_HASH,
            "user_api_key_alias": KEY_ALIAS,
            "user_api_key_team_alias": "search",
            "usage_object": {
                "prompt_tokens": 1200,
                "completion_tokens": 100,
                "prompt_tokens_details": {"cached_tokens": 1024},
            },
            "status": "success",
        },
        "cache_hit": "False",
        "request_tags": ["chat"],
        "team_id": "team-7",
        "end_user": "",
        "messages": {"messages": [{"role": "user", "content": PROMPT_TEXT}]},
        "response": {"choices": [{"message": {"content": COMPLETION_TEXT}}]},
        "status": "success",
    }
    return {**row, **overrides}


ROWS = [
    spend_log_row("sl-1"),
    spend_log_row(
        "sl-2",
        prompt_tokens=0,
        completion_tokens=0,
        status="failure",
        metadata={"status": "failure", "error_information": {"error_code": "500"}},
    ),
]


def by_id(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["request_id"]: e for e in events}


@pytest.mark.parametrize("fmt", [None, "litellm"])
def test_payloads_detected_or_forced(fmt: str | None) -> None:
    log, events, rejected = read(jsonl(RECORDS), fmt=fmt)
    assert log.format.name == "litellm" and log.source == "litellm" and not rejected
    event = by_id(events)["ll-1"]
    assert event["ts"] == datetime(2025, 6, 1, 10, tzinfo=UTC)
    assert counts(event) == (2000, 1536, 0, 300, 0)
    assert event["latency_ms"] == 1250 and event["status"] == 200
    assert (event["project"], event["feature"], event["user"]) == ("search", "chat,beta", "u-42")
    assert (event["finish_reason"], event["max_tokens"], event["provider"]) == (
        "stop",
        400,
        "openai",
    )
    # gpt-4o-mini at 0.15 / 0.075 cached / 0.6 out per 1M:
    # (2000-1536)*0.15 + 1536*0.075 + 300*0.6 = 69.6 + 115.2 + 180 = 364.8 per 1M -> $0.0003648
    assert cost_usd(event) == Decimal("0.0003648")
    assert_private(events)


def test_cache_counts_across_litellm_releases() -> None:
    _, events, _ = read(jsonl(RECORDS))
    found = by_id(events)
    # Current releases: prompt_tokens 98,805 already holds 66,360 reads and 32,435 writes.
    assert counts(found["ll-2"]) == (98805, 66360, 32435, 5120, 1710)
    # claude-3-7-sonnet at 3 in / 0.3 cached / 3.75 write / 15 out per 1M:
    # 10*3 + 66360*0.3 + 32435*3.75 + 5120*15 = 30 + 19908 + 121631.25 + 76800
    # = 218369.25 per 1M -> $0.21836925
    assert cost_usd(found["ll-2"]) == Decimal("0.21836925")
    assert counts(found["ll-3"])[:3] == (12 + 2495, 2495, 0)  # every cache count left out
    assert counts(found["ll-4"])[:3] == (3010 + 2000, 3000, 2000)  # writes left out


def test_prompt_total_adds_only_the_parts_that_do_not_fit() -> None:
    assert prompt_total(500, 300, 200) == 500
    assert prompt_total(12, 2495, 0) == 2507
    assert prompt_total(3010, 3000, 2000) == 5010
    assert prompt_total(10, 0, 5000) == 5010


def test_failure_and_cache_hit() -> None:
    _, events, _ = read(jsonl(RECORDS))
    found = by_id(events)
    assert (found["ll-5"]["status"], found["ll-5"]["error_type"]) == (429, "RateLimitError")
    assert counts(found["ll-5"]) == (0, 0, 0, 0, 0)
    # LiteLLM's own response cache answered: a request, but no tokens billed by a provider.
    assert counts(found["ll-6"]) == (0, 0, 0, 0, 0) and cost_usd(found["ll-6"]) == 0


def test_payload_with_bad_counts_names_the_source_field() -> None:
    bad = with_usage("ll-9", {**anthropic_usage(10, 5, 0, 5, 0), "cache_read_input_tokens": -3})
    bad["metadata"]["usage_object"]["prompt_tokens_details"] = {}
    _, events, rejected = read(jsonl([payload("ll-1"), bad, payload("ll-8", prompt_tokens="lots")]))
    assert [e["request_id"] for e in events] == ["ll-1"]
    assert [(line, field) for line, field, _ in rejected] == [
        (2, "metadata.usage_object.cache_read_input_tokens"),
        (3, "prompt_tokens"),
    ]


@pytest.mark.parametrize("fmt", [None, "litellm_csv"])
@pytest.mark.parametrize("compress", [False, True])
def test_spend_logs_csv(fmt: str | None, compress: bool) -> None:
    data = csv_file(ROWS)
    log, events, rejected = read(gz(data) if compress else data, fmt=fmt, file_name="spend.csv")
    assert log.format.name == "litellm_csv" and log.source == "litellm" and not rejected
    event, failed = by_id(events)["sl-1"], by_id(events)["sl-2"]
    # Prisma writes UTC without a zone: read as UTC.
    assert event["ts"] == datetime(2025, 6, 1, 10, 0, 0, 123000, tzinfo=UTC)
    assert counts(event) == (1200, 1024, 0, 100, 0) and event["latency_ms"] == 1000
    assert (event["project"], event["feature"], event["user"]) == ("search", "chat", "owner-1")
    # (1200-1024)*0.15 + 1024*0.075 + 100*0.6 = 26.4 + 76.8 + 60 = 163.2 per 1M -> $0.0001632
    assert cost_usd(event) == Decimal("0.0001632")
    assert (failed["status"], counts(failed)) == (500, (0, 0, 0, 0, 0))
    assert_private(events)
