"""Langfuse observations: API records and pages, blob exports (JSON lines, CSV), read and priced."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest

from tests.core.gateway_samples import (
    COMPLETION_TEXT,
    PROMPT_TEXT,
    assert_private,
    cost_usd,
    counts,
    csv_file,
    gz,
    jsonl,
)
from tests.core.test_logs import read


def observation(obs_id: str, **overrides: Any) -> dict[str, Any]:
    """An observation as the v2 API returns it (ObservationV2, camelCase): an o3-mini call
    whose OpenAI usage (2000 prompt incl. 1536 cached, 800 completion incl. 512 reasoning)
    Langfuse stored as disjoint parts."""
    record = {
        "id": obs_id,
        "traceId": "trace-1",
        "parentObservationId": "span-root",
        "type": "GENERATION",
        "name": "answer",
        "startTime": "2025-06-01T10:00:00.000Z",
        "endTime": "2025-06-01T10:00:02.500Z",
        "completionStartTime": "2025-06-01T10:00:00.800Z",
        "providedModelName": "o3-mini",
        "internalModelId": "cm-o3-mini",
        "modelParameters": {"max_tokens": "1024", "temperature": "0.2"},
        "usageDetails": {
            "input": 464,
            "input_cached_tokens": 1536,
            "output": 288,
            "output_reasoning_tokens": 512,
            "total": 2800,
        },
        "costDetails": {"input": 9.5, "total": 9.99},  # Langfuse's own prices: never read
        "totalCost": 9.99,
        "latency": 2.5,
        "timeToFirstToken": 0.8,
        "level": "DEFAULT",
        "statusMessage": None,
        "userId": "u-7",
        "sessionId": "session-1",
        "environment": "production",
        "tags": ["support", "beta"],
        "input": [{"role": "user", "content": PROMPT_TEXT}],
        "output": {"role": "assistant", "content": COMPLETION_TEXT},
    }
    return {**record, **overrides}


CLAUDE = observation(
    "obs-2",
    providedModelName="claude-3-5-sonnet-20241022",
    usageDetails={
        "input": 20,
        "input_cache_read": 3000,
        "input_cache_creation": 500,
        "output": 150,
        "total": 3670,
    },
    modelParameters={"max_tokens": "Infinity"},  # free-form: left out, never a rejection
)
SPAN = observation("span-1", type="SPAN", providedModelName=None, usageDetails={})
TOOL = observation("tool-1", type="TOOL", providedModelName=None, usageDetails={})
FAILED = observation(
    "obs-3",
    level="ERROR",
    statusMessage="Error code: 429 - Rate limit reached for requests",
    usageDetails={},
    latency=None,
)
EMBEDDING = observation(
    "emb-1", type="EMBEDDING", providedModelName="text-embedding-3-small", usageDetails={"input": 8}
)
RECORDS = [observation("obs-1"), SPAN, CLAUDE, TOOL, FAILED, EMBEDDING]


def blob_row(record: dict[str, Any]) -> dict[str, Any]:
    """The same observation as the blob-storage export writes it: snake_case columns, times
    as ClickHouse text (UTC, no zone), latency in seconds."""
    return {
        "id": record["id"],
        "trace_id": record["traceId"],
        "project_id": "proj-1",
        "environment": record["environment"],
        "type": record["type"],
        "parent_observation_id": record["parentObservationId"],
        "start_time": "2025-06-01 10:00:00.000",
        "end_time": "2025-06-01 10:00:02.500",
        "name": record["name"],
        "level": record["level"],
        "status_message": record["statusMessage"],
        "input": orjson.dumps(record["input"]).decode(),
        "output": orjson.dumps(record["output"]).decode(),
        "provided_model_name": record["providedModelName"],
        "model_parameters": record["modelParameters"],
        "usage_details": record["usageDetails"],
        "cost_details": record["costDetails"],
        "total_cost": record["totalCost"],
        "latency": record["latency"],
        "model_id": record["internalModelId"],
    }


def by_id(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["request_id"]: e for e in events}


def check_calls(events: list[dict[str, Any]]) -> None:
    """What every shape of the same observations must give."""
    found = by_id(events)
    assert set(found) == {"obs-1", "obs-2", "obs-3", "emb-1"}  # spans and tools skipped
    o3 = found["obs-1"]
    assert o3["ts"] == datetime(2025, 6, 1, 10, tzinfo=UTC)
    assert counts(o3) == (2000, 1536, 0, 800, 512)
    assert (o3["latency_ms"], o3["max_tokens"]) == (2500, 1024)
    # o3-mini at 1.1 in / 0.55 cached / 4.4 out per 1M:
    # 464*1.1 + 1536*0.55 + 800*4.4 = 510.4 + 844.8 + 3520 = 4875.2 per 1M -> $0.0048752
    assert cost_usd(o3) == Decimal("0.0048752")
    claude = found["obs-2"]
    assert counts(claude) == (3520, 3000, 500, 150, 0) and claude["max_tokens"] == -1
    # claude-3-5-sonnet at 3 / 0.3 cached / 3.75 write / 15 out per 1M:
    # 20*3 + 3000*0.3 + 500*3.75 + 150*15 = 60 + 900 + 1875 + 2250 = 5085 per 1M -> $0.005085
    assert cost_usd(claude) == Decimal("0.005085")
    failed = found["obs-3"]
    assert failed["status"] == 429 and failed["error_type"].startswith("Error code: 429")
    assert counts(failed) == (0, 0, 0, 0, 0)
    # text-embedding-3-small at 0.02 per 1M: 8*0.02 = 0.16 per 1M -> $0.00000016
    assert cost_usd(found["emb-1"]) == Decimal("0.00000016")
    assert_private(events)


@pytest.mark.parametrize("fmt", [None, "langfuse"])
def test_api_observations_detected_or_forced(fmt: str | None) -> None:
    log, events, rejected = read(jsonl(RECORDS), fmt=fmt)
    assert log.format.name == "langfuse" and log.source == "langfuse"
    assert not rejected  # spans and tools are skipped, not rejected
    check_calls(events)
    o3 = by_id(events)["obs-1"]
    assert (o3["user"], o3["feature"]) == ("u-7", "support,beta")


def test_blob_export_json_lines_gzip() -> None:
    log, events, rejected = read(gz(jsonl([blob_row(r) for r in RECORDS])))
    assert log.format.name == "langfuse" and not rejected
    check_calls(events)


def test_api_page_expands_to_its_model_calls() -> None:
    page = {"data": RECORDS, "meta": {"cursor": "eyJwYWdlIjoyfQ"}}
    log, events, rejected = read(orjson.dumps(page, option=orjson.OPT_INDENT_2))
    assert log.shape == "document" and log.format.name == "langfuse" and not rejected
    check_calls(events)
    assert {e["line"] for e in events} == {1}  # every row reported under the page's line


@pytest.mark.parametrize("fmt", [None, "langfuse_csv"])
def test_blob_export_csv(fmt: str | None) -> None:
    data = csv_file([blob_row(r) for r in RECORDS])
    log, events, rejected = read(data, fmt=fmt, file_name="observations.csv")
    assert log.format.name == "langfuse_csv" and log.source == "langfuse" and not rejected
    check_calls(events)


def test_bad_usage_names_the_key() -> None:
    bad = observation("obs-9", usageDetails={"input": 10, "output_reasoning_tokens": -1})
    _, events, rejected = read(jsonl([observation("obs-1"), bad]))
    assert [e["request_id"] for e in events] == ["obs-1"]
    assert rejected[0][:2] == (2, "usageDetails.output_reasoning_tokens")


def test_legacy_usage_object_with_costs() -> None:
    """The v1 API's `usage` (ObservationsView) carries USD costs next to the counts."""
    legacy = observation("obs-8", providedModelName=None, model="gpt-4o-mini", usageDetails=None)
    legacy["usage"] = {
        "input": 100,
        "output": 20,
        "total": 120,
        "unit": "TOKENS",
        "inputCost": 0.000015,
        "outputCost": 0.000012,
        "totalCost": 0.000027,
    }
    _, events, rejected = read(jsonl([legacy]))
    assert not rejected and counts(events[0]) == (100, 0, 0, 20, 0)
    # gpt-4o-mini: 100*0.15 + 20*0.6 = 15 + 12 = 27 per 1M -> $0.000027
    assert cost_usd(events[0]) == Decimal("0.000027")
