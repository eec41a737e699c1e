"""AWS Bedrock model invocation logs (gzip JSON lines), read and priced."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from core.logs.formats.bedrock import arn_model, map_records
from tests.core.gateway_samples import (
    COMPLETION_TEXT,
    PROMPT_TEXT,
    assert_private,
    cost_usd,
    counts,
    gz,
    jsonl,
)
from tests.core.test_logs import read

PROFILE = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
SONNET = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
APP_PROFILE = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6"


def invocation(request_id: str, **overrides: Any) -> dict[str, Any]:
    """A Converse call as Bedrock's invocation logging writes it (schemaVersion 1.0): the first
    call of a cached prompt, 18 own input tokens and 7502 written to the cache."""
    record = {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": "2025-06-01T10:00:00Z",
        "accountId": "123456789012",
        "identity": {"arn": "arn:aws:sts::123456789012:assumed-role/search-app/i-0abc"},
        "region": "us-east-1",
        "requestId": request_id,
        "operation": "Converse",
        "modelId": PROFILE + SONNET,
        "input": {
            "inputContentType": "application/json",
            "inputBodyJson": {"messages": [{"role": "user", "content": [{"text": PROMPT_TEXT}]}]},
            "inputTokenCount": 18,
            "cacheReadInputTokenCount": 0,
            "cacheWriteInputTokenCount": 7502,
        },
        "output": {
            "outputContentType": "application/json",
            "outputBodyJson": {
                "output": {
                    "message": {"role": "assistant", "content": [{"text": COMPLETION_TEXT}]}
                },
                "stopReason": "end_turn",
                "usage": {"inputTokens": 18, "outputTokens": 386, "totalTokens": 7906},
                "metrics": {"latencyMs": 4120},
            },
            "outputTokenCount": 386,
        },
        "requestMetadata": {"Project": "search", "feature": "answers"},
        "inferenceRegion": "us-west-2",
    }
    return {**record, **overrides}


def reading(request_id: str) -> dict[str, Any]:
    """The next call of the same prompt: the 7502 tokens are read from the cache."""
    record = invocation(request_id)
    record["input"] = {**record["input"], "cacheReadInputTokenCount": 7502}
    record["input"]["cacheWriteInputTokenCount"] = 0
    record["output"] = {**record["output"], "outputTokenCount": 503}
    return record


THROTTLED = {
    **invocation("br-3"),
    "errorCode": "ThrottlingException",
    "input": {"inputContentType": "application/json", "inputTokenCount": 0},
    "output": {},
}
HAIKU = invocation(
    "br-4",
    modelId="arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
    requestMetadata={},
)
CUSTOM = invocation("br-5", modelId=APP_PROFILE)
RECORDS = [invocation("br-1"), reading("br-2"), THROTTLED, HAIKU, CUSTOM]


def by_id(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["request_id"]: e for e in events}


@pytest.mark.parametrize("fmt", [None, "bedrock"])
def test_gzip_log_detected_or_forced(fmt: str | None) -> None:
    log, events, rejected = read(gz(jsonl(RECORDS)), fmt=fmt, file_name="logs.json.gz")
    assert log.format.name == "bedrock" and log.source == "bedrock" and not rejected
    found = by_id(events)
    first = found["br-1"]
    assert first["ts"] == datetime(2025, 6, 1, 10, tzinfo=UTC)
    assert first["model"] == SONNET  # the inference profile's model part
    # inputTokenCount leaves the cache out: input = 18 + 0 read + 7502 written.
    assert counts(first) == (7520, 0, 7502, 386, 0)
    assert (first["latency_ms"], first["finish_reason"], first["status"]) == (4120, "end_turn", 200)
    assert (first["project"], first["feature"]) == ("search", "answers")
    assert first["user"] == "arn:aws:sts::123456789012:assumed-role/search-app/i-0abc"
    # claude-3-7-sonnet at 3 in / 3.75 cache write / 15 out per 1M:
    # 18*3 + 7502*3.75 + 386*15 = 54 + 28132.5 + 5790 = 33976.5 per 1M -> $0.0339765
    assert cost_usd(first) == Decimal("0.0339765")
    second = found["br-2"]
    assert counts(second) == (7520, 7502, 0, 503, 0)
    # 18*3 + 7502*0.3 + 503*15 = 54 + 2250.6 + 7545 = 9849.6 per 1M -> $0.0098496
    assert cost_usd(second) == Decimal("0.0098496")
    assert_private(events)


def test_throttled_call_and_model_ids() -> None:
    _, events, _ = read(gz(jsonl(RECORDS)))
    found = by_id(events)
    throttled = found["br-3"]
    assert (throttled["status"], throttled["error_type"]) == (429, "ThrottlingException")
    assert counts(throttled) == (0, 0, 0, 0, 0)
    assert found["br-4"]["model"] == "anthropic.claude-3-haiku-20240307-v1:0"
    assert found["br-4"]["project"] == ""
    assert found["br-5"]["model"] == APP_PROFILE  # opaque: kept as logged (unpriced)


def test_caller_mapping_names_application_profiles() -> None:
    """The caller's mapping (from the settings) is read from the format's state."""
    state = {"bedrock_models": {APP_PROFILE: "anthropic.claude-3-haiku-20240307-v1:0"}}
    mapped = map_records([CUSTOM, HAIKU], state)
    assert mapped.columns["model"] == ["anthropic.claude-3-haiku-20240307-v1:0"] * 2


@pytest.mark.parametrize(
    ("model_id", "model"),
    [
        ("anthropic.claude-3-haiku-20240307-v1:0", "anthropic.claude-3-haiku-20240307-v1:0"),
        (PROFILE + SONNET, SONNET),
        (
            "arn:aws:bedrock:eu-west-1::foundation-model/amazon.nova-pro-v1:0",
            "amazon.nova-pro-v1:0",
        ),
        (APP_PROFILE, APP_PROFILE),
        (
            "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc",
            "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc",
        ),
    ],
)
def test_arn_model(model_id: str, model: str) -> None:
    assert arn_model(model_id) == model
