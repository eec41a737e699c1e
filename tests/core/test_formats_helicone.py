"""Helicone exports (@helicone/export): JSON array, JSON lines and CSV, read and priced."""

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
    csv_file,
    json_array,
    jsonl,
)
from tests.core.test_logs import read


def request(request_id: str, **overrides: Any) -> dict[str, Any]:
    """A HeliconeRequest as the export writes it: an OpenAI call whose provider usage was 2000
    prompt tokens (1536 cached) and 300 completion tokens; Helicone stores the prompt count
    without the cached part."""
    record = {
        "response_id": f"resp-{request_id}",
        "response_created_at": "2025-06-01T10:00:01.200Z",
        "response_status": 200,
        "response_model": "gpt-4o-mini-2024-07-18",
        "request_id": request_id,
        "request_created_at": "2025-06-01T10:00:00.000Z",
        "request_model": "gpt-4o-mini",
        "model_override": None,
        "model": "gpt-4o-mini-2024-07-18",
        "request_user_id": "u-42",
        "request_properties": {"Feature": "search", "Project": "web", "Environment": "prod"},
        "request_path": "/v1/chat/completions",
        "provider": "OPENAI",
        "delay_ms": 1200,
        "time_to_first_token": 310,
        "total_tokens": 764,
        "prompt_tokens": 464,
        "prompt_cache_read_tokens": 1536,
        "prompt_cache_write_tokens": 0,
        "completion_tokens": 300,
        "prompt_audio_tokens": 0,
        "completion_audio_tokens": 0,
        "cost": 0.999,  # Helicone's own price: never read
        "request_body": {"messages": [{"role": "user", "content": PROMPT_TEXT}]},
        "response_body": {"choices": [{"message": {"content": COMPLETION_TEXT}}]},
    }
    return {**record, **overrides}


CLAUDE = request(
    "hc-2",
    response_model="claude-3-5-sonnet-20241022",
    request_model="claude-3-5-sonnet-latest",
    model="claude-3-5-sonnet-20241022",
    provider="ANTHROPIC",
    prompt_tokens=20,  # Anthropic's input_tokens: uncached only
    prompt_cache_read_tokens=3000,
    prompt_cache_write_tokens=500,
    completion_tokens=150,
    request_properties={"helicone-property-feature": "support"},
)
FAILED = request(
    "hc-3",
    response_status=429,
    prompt_tokens=0,
    prompt_cache_read_tokens=0,
    completion_tokens=0,
    response_body={"error": {"message": "Rate limit reached"}},
)
RECORDS = [request("hc-1"), CLAUDE, FAILED]


def csv_row(record: dict[str, Any]) -> dict[str, Any]:
    """The same request as a row of the export's CSV (its twelve columns)."""
    columns = (
        "response_id",
        "response_created_at",
        "response_status",
        "request_created_at",
        "request_body",
        "request_properties",
        "request_user_id",
        "model",
        "prompt_tokens",
        "completion_tokens",
        "latency",
        "cost",
    )
    return {c: record.get(c, record["delay_ms"] if c == "latency" else None) for c in columns}


def by_id(events: list[dict[str, Any]], key: str = "request_id") -> dict[str, dict[str, Any]]:
    return {e[key]: e for e in events}


@pytest.mark.parametrize("fmt", [None, "helicone"])
@pytest.mark.parametrize("shape", ["array", "lines"])
def test_export_detected_or_forced(fmt: str | None, shape: str) -> None:
    data = json_array(RECORDS) if shape == "array" else jsonl(RECORDS)
    log, events, rejected = read(data, fmt=fmt)
    assert log.format.name == "helicone" and log.source == "helicone" and not rejected
    found = by_id(events)
    event = found["hc-1"]
    assert event["ts"] == datetime(2025, 6, 1, 10, tzinfo=UTC)
    assert counts(event) == (2000, 1536, 0, 300, 0)
    assert (event["latency_ms"], event["status"], event["model"]) == (
        1200,
        200,
        "gpt-4o-mini-2024-07-18",
    )
    assert (event["project"], event["feature"], event["user"]) == ("web", "search", "u-42")
    # gpt-4o-mini: 464*0.15 + 1536*0.075 + 300*0.6 = 69.6 + 115.2 + 180 = 364.8 per 1M
    assert cost_usd(event) == Decimal("0.0003648")
    claude = found["hc-2"]
    assert counts(claude) == (3520, 3000, 500, 150, 0) and claude["feature"] == "support"
    # claude-3-5-sonnet: 20*3 + 3000*0.3 + 500*3.75 + 150*15 = 5085 per 1M -> $0.005085
    assert cost_usd(claude) == Decimal("0.005085")
    assert (found["hc-3"]["status"], counts(found["hc-3"])) == (429, (0, 0, 0, 0, 0))
    assert_private(events)
    assert log.scrub.as_dict() == {"request_body.messages": 3, "response_body.choices": 2}


def test_audio_tokens_are_added_back() -> None:
    record = request("hc-4", prompt_audio_tokens=40, completion_audio_tokens=60)
    _, events, _ = read(jsonl([record]))
    assert counts(events[0]) == (2040, 1536, 0, 360, 0)


@pytest.mark.parametrize("fmt", [None, "helicone_csv"])
def test_csv_export(fmt: str | None) -> None:
    rows = [csv_row(r) for r in RECORDS]
    log, events, rejected = read(csv_file(rows), fmt=fmt, file_name="output.csv")
    assert log.format.name == "helicone_csv" and log.source == "helicone" and not rejected
    event = by_id(events)["resp-hc-1"]  # the CSV has no request_id column
    # The CSV has no cache columns: the uncached prompt count is all it can give.
    assert counts(event) == (464, 0, 0, 300, 0) and event["latency_ms"] == 1200
    assert (event["project"], event["feature"]) == ("web", "search")
    assert by_id(events)["resp-hc-3"]["status"] == 429
    assert_private(events)


def test_csv_properties_with_quotes_doubled_twice() -> None:
    """Some releases of the export tool escaped the quotes of object cells twice."""
    row = csv_row(request("hc-1"))
    header = ",".join(row)
    cells = {**row, "request_properties": '"{""""Feature"""":""""search""""}"', "request_body": ""}
    line = ",".join(str(v) if k == "request_properties" else f'"{v}"' for k, v in cells.items())
    _, events, rejected = read(f"{header}\n{line}\n".encode(), file_name="output.csv")
    assert not rejected and events[0]["feature"] == "search"
