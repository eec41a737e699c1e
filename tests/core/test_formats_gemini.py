"""Gemini API / Vertex AI generateContent responses, bare, wrapped and batch, read and priced."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tests.core.gateway_samples import (
    COMPLETION_TEXT,
    PROMPT_TEXT,
    assert_private,
    cost_usd,
    counts,
    jsonl,
)
from tests.core.test_logs import read


def candidates(finish: str) -> list[dict[str, Any]]:
    return [
        {
            "content": {"role": "model", "parts": [{"text": COMPLETION_TEXT}]},
            "finishReason": finish,
            "avgLogprobs": -0.12,
        }
    ]


# Vertex AI, bare: implicit cache hit, thinking and a search-grounding tool prompt.
# totalTokenCount = prompt 1200 + candidates 300 + tool-use prompt 50 + thoughts 700 = 2250.
VERTEX = {
    "candidates": candidates("STOP"),
    "usageMetadata": {
        "promptTokenCount": 1200,
        "candidatesTokenCount": 300,
        "totalTokenCount": 2250,
        "cachedContentTokenCount": 1000,
        "thoughtsTokenCount": 700,
        "toolUsePromptTokenCount": 50,
        "trafficType": "ON_DEMAND",
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 1200}],
        "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": 1000}],
    },
    "modelVersion": "gemini-2.5-flash",
    "createTime": "2025-06-01T10:00:00.123456Z",
    "responseId": "vx-1",
}
# Gemini API, inside the caller's wrapper; cut by the token limit.
WRAPPED = {
    "timestamp": "2025-06-01T11:00:00Z",
    "latency_ms": 900,
    "project": "docs",
    "user": "u-1",
    "response": {
        "candidates": candidates("MAX_TOKENS"),
        "usageMetadata": {
            "promptTokenCount": 4000,
            "candidatesTokenCount": 256,
            "totalTokenCount": 4256,
        },
        "modelVersion": "gemini-2.0-flash-001",
        "responseId": "g-2",
    },
}
FAILED = {
    "timestamp": "2025-06-01T11:05:00Z",
    "request_id": "g-3",
    "model": "gemini-2.0-flash",
    "response": {
        "error": {
            "code": 429,
            "message": "Resource has been exhausted (e.g. check quota).",
            "status": "RESOURCE_EXHAUSTED",
        }
    },
}
# A line of a Vertex AI batch prediction output file.
BATCH = {
    "status": "",
    "processed_time": "2025-06-01T12:00:00.000+00:00",
    "request": {"contents": [{"role": "user", "parts": [{"text": PROMPT_TEXT}]}]},
    "response": {
        "candidates": candidates("STOP"),
        "usageMetadata": {
            "promptTokenCount": 2000,
            "candidatesTokenCount": 500,
            "totalTokenCount": 2500,
        },
        "modelVersion": "gemini-2.0-flash-001",
        "responseId": "b-4",
    },
}
BLOCKED = {
    "promptFeedback": {"blockReason": "SAFETY"},
    "usageMetadata": {"promptTokenCount": 10, "totalTokenCount": 10},
    "modelVersion": "gemini-2.0-flash-001",
    "createTime": "2025-06-01T12:30:00Z",
    "responseId": "x-5",
}
RECORDS = [VERTEX, WRAPPED, FAILED, BATCH, BLOCKED]


def by_id(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["request_id"]: e for e in events}


@pytest.mark.parametrize("fmt", [None, "gemini"])
def test_responses_detected_or_forced(fmt: str | None) -> None:
    log, events, rejected = read(jsonl(RECORDS), fmt=fmt)
    assert log.format.name == "gemini" and not rejected
    found = by_id(events)
    vertex = found["vx-1"]
    assert vertex["ts"] == datetime(2025, 6, 1, 10, 0, 0, 123456, tzinfo=UTC)
    # input = prompt 1200 (holding the 1000 cached) + tool-use prompt 50;
    # output = candidates 300 + thoughts 700, reasoning = thoughts.
    assert counts(vertex) == (1250, 1000, 0, 1000, 700)
    assert (vertex["provider"], vertex["finish_reason"], vertex["batch"]) == (
        "google",
        "STOP",
        False,
    )
    # gemini-2.5-flash at 0.3 in / 0.03 cached / 2.5 out per 1M:
    # (1250-1000)*0.3 + 1000*0.03 + 1000*2.5 = 75 + 30 + 2500 = 2605 per 1M -> $0.002605
    assert cost_usd(vertex) == Decimal("0.002605")
    assert_private(events)


def test_wrapped_response_takes_the_wrappers_time_and_labels() -> None:
    _, events, _ = read(jsonl(RECORDS))
    event = by_id(events)["g-2"]
    assert event["ts"] == datetime(2025, 6, 1, 11, tzinfo=UTC)
    assert (event["latency_ms"], event["project"], event["user"]) == (900, "docs", "u-1")
    assert event["finish_reason"] == "length"  # MAX_TOKENS, folded by the rule set
    # gemini-2.0-flash at 0.1 in / 0.4 out per 1M: 4000*0.1 + 256*0.4 = 502.4 -> $0.0005024
    assert cost_usd(event) == Decimal("0.0005024")


def test_failed_call_blocked_prompt_and_batch_line() -> None:
    _, events, _ = read(jsonl(RECORDS))
    found = by_id(events)
    failed = found["g-3"]
    assert (failed["status"], failed["error_type"]) == (429, "RESOURCE_EXHAUSTED")
    assert counts(failed) == (0, 0, 0, 0, 0) and failed["model"] == "gemini-2.0-flash"
    assert found["x-5"]["finish_reason"] == "SAFETY" and counts(found["x-5"])[0] == 10
    batch = found["b-4"]
    assert batch["batch"] and batch["ts"] == datetime(2025, 6, 1, 12, tzinfo=UTC)
    # gemini-2.0-flash batch rates 0.05 in / 0.20 out per 1M: 2000*0.05 + 500*0.2 = 200 per 1M
    assert cost_usd(batch) == Decimal("0.0002")


def test_usage_that_is_not_an_object_is_rejected_by_name() -> None:
    _, events, rejected = read(
        jsonl([VERTEX, {**VERTEX, "responseId": "vx-2", "usageMetadata": 7}])
    )
    assert [e["request_id"] for e in events] == ["vx-1"]
    assert rejected[0][:2] == (2, "usageMetadata")
