"""Gemini API and Vertex AI `generateContent` responses, bare or inside a wrapper.

A wrapper holds the response under `response`, `body` or `result` next to what the caller
measured (`timestamp`, `latency_ms`, `status`, `project`, ...), as for OpenAI objects. Vertex
AI batch prediction output lines (`request`, `response`, `processed_time`) are such wrappers
and are priced at batch rates.

Token semantics (`usageMetadata`; Google's API reference and the `python-genai` types
`GenerateContentResponseUsageMetadata`, checked against genai-prices' Google extractor):
- `promptTokenCount` INCLUDES `cachedContentTokenCount` ("when cached content is set, this is
  still the total effective prompt size"): input = prompt (+ tool-use prompt), cached = the
  cached count.
- `toolUsePromptTokenCount` (tokens of tool results fed back, e.g. search grounding or code
  execution) is NOT part of `promptTokenCount`: `totalTokenCount` = prompt + candidates +
  tool-use prompt + thoughts. It is billed as input, so it is added to the input.
- `candidatesTokenCount` EXCLUDES `thoughtsTokenCount`, and thoughts are billed at the output
  rate (leaving them out is the documented under-count behind langfuse#13792):
  output = candidates + thoughts, reasoning = thoughts. The Live API spells candidates
  `responseTokenCount`.
- `modelVersion` is the model, `responseId` the id, `createTime` (Vertex) the time, else the
  wrapper's. `finishReason` `MAX_TOKENS` is folded into `length` by the rule set. A failed call
  carries `error: {code, status, message}`: the code is the HTTP status, `status`
  (`RESOURCE_EXHAUSTED`, ...) the error type.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.logs.events import Mapped
from core.logs.formats import Format, Record
from core.logs.formats.litellm import first, mapping, part
from core.logs.formats.openai import WRAPPER_KEYS, map_objects, outcome, when
from core.logs.rules import RecordError

_MARKS = ("usageMetadata", "candidates", "modelVersion")
_USAGE = "usageMetadata"


def is_batch_line(wrapper: Record) -> bool:
    """A line of a Vertex AI batch prediction output file."""
    return "processed_time" in wrapper and "request" in wrapper


def split(record: Record) -> tuple[Record, Record]:
    """(wrapper fields, response) of a record; the wrapper is empty for a bare response."""
    if is_batch_line(record):
        return record, mapping(record.get("response"))
    for key in WRAPPER_KEYS:
        inner = record.get(key)
        if isinstance(inner, Mapping) and any(mark in inner for mark in (*_MARKS, "error")):
            return record, inner
    return {}, record


def detect(record: Record) -> bool:
    """A generateContent response (usage metadata, candidates or a model version), bare or
    wrapped."""
    _, body = split(record)
    return _USAGE in body or ("candidates" in body and "modelVersion" in body)


def usage_counts(usage: object) -> dict[str, object]:
    """Input (prompt + tool-use prompt), output (candidates + thoughts) and their parts."""
    if usage is None:
        return {"input_tokens": 0, "output_tokens": 0}
    if not isinstance(usage, Mapping):
        raise RecordError(_USAGE, "must be an object")
    thoughts = part(usage.get("thoughtsTokenCount"), f"{_USAGE}.thoughtsTokenCount")
    candidates = first(usage.get("candidatesTokenCount"), usage.get("responseTokenCount"))
    tool_use = part(usage.get("toolUsePromptTokenCount"), f"{_USAGE}.toolUsePromptTokenCount")
    return {
        "input_tokens": part(usage.get("promptTokenCount"), f"{_USAGE}.promptTokenCount")
        + tool_use,
        "output_tokens": part(candidates, f"{_USAGE}.candidatesTokenCount") + thoughts,
        "cached_input_tokens": usage.get("cachedContentTokenCount"),
        "reasoning_tokens": thoughts,
    }


def time_of(wrapper: Record, body: Record) -> tuple[object, str]:
    """The response's `createTime` (Vertex), else the wrapper's time, and where it came from."""
    if body.get("createTime") is not None:
        return body["createTime"], "createTime"
    ts, name = when(wrapper, {})
    if ts is None and wrapper.get("processed_time") is not None:
        return wrapper["processed_time"], "processed_time"
    return ts, name


def finish_reason(body: Record) -> object:
    """The first candidate's finish reason, or why the prompt was blocked."""
    candidates = body.get("candidates")
    if isinstance(candidates, list) and candidates and isinstance(candidates[0], Mapping):
        return candidates[0].get("finishReason")
    return mapping(body.get("promptFeedback")).get("blockReason")


def failure(wrapper: Record, body: Record) -> dict[str, object]:
    """Status and error type: the wrapper's, else those of the response's `error`. A batch
    prediction line's `status` is empty on success and the error message on a failure."""
    found = outcome(wrapper, {})
    if is_batch_line(wrapper):
        message = wrapper.get("status")
        found["status"], found["error_type"] = (
            ("error", str(message)[:200]) if message else (None, None)
        )
    error = body.get("error")
    if isinstance(error, Mapping):
        found["error_type"] = error.get("status") or error.get("code") or "error"
        found["status"] = first(found["status"], error.get("code"))
    return found


def map_one(record: Record) -> tuple[dict[str, object], dict[str, str]]:
    """One response -> canonical raw values."""
    wrapper, body = split(record)
    ts, ts_name = time_of(wrapper, body)
    values = {
        **failure(wrapper, body),
        "timestamp": ts,
        "request_id": first(body.get("responseId"), wrapper.get("request_id"), wrapper.get("id")),
        "model": body.get("modelVersion") or wrapper.get("model"),
        **usage_counts(body.get(_USAGE)),
        "finish_reason": finish_reason(body),
        "batch": wrapper.get("batch", is_batch_line(wrapper)),
        "provider": "google",
    }
    names = {
        "timestamp": ts_name,
        "request_id": "responseId",
        "model": "modelVersion",
        "input_tokens": f"{_USAGE}.promptTokenCount",
        "output_tokens": f"{_USAGE}.candidatesTokenCount",
        "cached_input_tokens": f"{_USAGE}.cachedContentTokenCount",
        "finish_reason": "candidates[0].finishReason",
    }
    return values, names


def map_records(records: list[Record], state: dict[str, Any]) -> Mapped:
    """Gemini / Vertex AI responses -> canonical columns."""
    return map_objects(records, map_one)


FORMAT = Format(
    name="gemini",
    description="Gemini API / Vertex AI generateContent responses (bare or wrapped)",
    priority=45,  # after OpenAI's objects: a wrapped failure alone is not told apart
    detect=detect,
    map=map_records,
    wrappers=WRAPPER_KEYS,
)
