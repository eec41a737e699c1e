"""The gateway and cloud formats side by side: each recognises its own records and no other's.

Every sample record of a format is classified as that format (so it wins over the generic
flat and CSV formats), and no gateway format's `detect` claims another format's records of
its file shape, the existing ones (flat, OpenAI, Anthropic, Batch, usage pages, OTLP)
included.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

import tests.core.test_formats_bedrock as bedrock
import tests.core.test_formats_gemini as gemini
import tests.core.test_formats_helicone as helicone
import tests.core.test_formats_langfuse as langfuse
import tests.core.test_formats_litellm as litellm
from core.logs.formats import classify, get
from tests.core.gateway_samples import csv_file
from tests.core.test_logs import CHAT, FLAT

GATEWAYS = (
    "litellm",
    "litellm_csv",
    "langfuse",
    "langfuse_csv",
    "helicone",
    "helicone_csv",
    "gemini",
    "bedrock",
)


def csv_rows(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Rows as the CSV reader hands them to a format: cell text keyed by the header."""
    return list(csv.DictReader(io.StringIO(csv_file(rows).decode())))


SAMPLES: dict[str, list[dict[str, Any]]] = {
    "litellm": litellm.RECORDS,
    "litellm_csv": csv_rows(litellm.ROWS),
    "langfuse": [
        *langfuse.RECORDS,
        *(langfuse.blob_row(r) for r in langfuse.RECORDS),
        {"data": langfuse.RECORDS, "meta": {"cursor": None}},
    ],
    "langfuse_csv": csv_rows([langfuse.blob_row(r) for r in langfuse.RECORDS]),
    "helicone": helicone.RECORDS,
    "helicone_csv": csv_rows([helicone.csv_row(r) for r in helicone.RECORDS]),
    # A failed call wrapped alone (no usage, no candidates) is told apart only by its file.
    "gemini": [r for r in gemini.RECORDS if r is not gemini.FAILED],
    "bedrock": bedrock.RECORDS,
}
ANTHROPIC = {
    "id": "msg_01",
    "type": "message",
    "model": "claude-3-5-sonnet-20241022",
    "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 0},
}
BATCH_LINE = {"id": "batch_req_1", "custom_id": "r-1", "response": {"status_code": 200}}
USAGE_PAGE = {"object": "page", "data": [], "has_more": False}
OTLP = {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": []}]}
OTHERS: dict[str, dict[str, Any]] = {
    "flat": FLAT,
    "openai": CHAT,
    "anthropic": ANTHROPIC,
    "batch": BATCH_LINE,
    "usage_api": USAGE_PAGE,
}
FLAT_CSV_ROW = {"timestamp": "2025-06-01T10:00:00Z", "request_id": "r-1", "model": "gpt-4o"}


@pytest.mark.parametrize("name", GATEWAYS)
def test_each_sample_is_classified_as_its_format(name: str) -> None:
    shape = get(name).shape
    assert [classify(record, shape) for record in SAMPLES[name]] == [name] * len(SAMPLES[name])


@pytest.mark.parametrize("name", GATEWAYS)
def test_no_format_claims_anothers_records(name: str) -> None:
    fmt = get(name)
    others = [
        r
        for other, rs in SAMPLES.items()
        if other != name and get(other).shape == fmt.shape
        for r in rs
    ]
    others += [FLAT_CSV_ROW] if fmt.shape == "csv" else [*OTHERS.values(), OTLP]
    assert not [r for r in others if fmt.detect(r)]


@pytest.mark.parametrize(("name", "record"), OTHERS.items())
def test_existing_formats_keep_their_records(name: str, record: dict[str, Any]) -> None:
    assert classify(record) == name
    assert classify(FLAT_CSV_ROW, "csv") == "csv"
