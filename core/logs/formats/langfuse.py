"""Langfuse observations: blob-storage exports (JSON lines, JSON or CSV) and API pages.

Only model calls are read: `GENERATION` and `EMBEDDING` observations (Langfuse's docs: both
carry a model, token usage and costs). Spans, events, tools, agents and the other types are
skipped: they expand to no row, so they are neither stored nor rejected. A page of the public
API (`{"data": [...], "meta": {...}}`) expands to its observations the same way.

Token semantics (Langfuse's ingestion schema `packages/shared/src/server/ingestion/types.ts`
and its SDKs' usage parsers; docs "Token & cost tracking"):
- `usageDetails` keys are disjoint parts. When an OpenAI usage is ingested, Langfuse stores
  `input` = `prompt_tokens` minus every `prompt_tokens_details` entry (each kept as
  `input_<name>`, e.g. `input_cached_tokens`, `input_audio_tokens`) and `output` =
  `completion_tokens` minus every `completion_tokens_details` entry (`output_reasoning_tokens`,
  ...). Anthropic integrations write `input` (uncached), `input_cache_read` and
  `input_cache_creation`. So `input` EXCLUDES cached tokens and `output` EXCLUDES reasoning.
- Langfuse itself sums every key containing "input" as input and every key containing
  "output" as output; so does Costdesk: input = the sum of the input keys (and of the
  `cached_modality_*` keys its LangChain handler writes for Vertex AI), output = the sum of
  the output keys, cached = the input keys naming a cache read (`cache_read`, `cached`),
  cache write = those naming a cache write (`cache_creation`, `cache_write`), reasoning = the
  output keys naming reasoning. Cost keys of the legacy `usage` object are not counts. (An
  integration that already counts a part inside `input` and also sends it under its own key
  is double-counted here exactly as in Langfuse's totals; BerriAI/litellm#26919.)
- `costDetails`, `totalCost` and the model prices are Langfuse's: never read.
- `latency` is in seconds (the blob export converts it to seconds too); without it the span
  from `startTime` to `endTime` is used. Times are UTC (ClickHouse); a zone-less text is read
  as UTC.
- The model is `providedModelName` (as sent), else the legacy `model`. `level: ERROR` marks a
  failed call, with `statusMessage` as its error. `userId` is the user, `tags` the tags (and,
  joined, the feature), `environment` the environment. `sessionId`, `traceName` and `release`
  have no canonical field.
- Blob exports spell fields in snake_case (`start_time`, `usage_details`,
  `provided_model_name`), the API in camelCase: both are read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.logs.events import Mapped
from core.logs.formats import SCRUBBED, Format, Record
from core.logs.formats.flat import _joined
from core.logs.formats.litellm import (
    csv_record,
    first,
    mapping,
    milliseconds_between,
    part,
    utc_text,
    whole_number,
)
from core.logs.formats.openai import map_objects
from core.logs.privacy import content_keys

MODEL_CALLS = frozenset({"GENERATION", "EMBEDDING"})
_CSV_NUMBERS = frozenset({"latency", "time_to_first_token"})
_CSV_OBJECTS = frozenset(
    {"usage_details", "usageDetails", "usage", "tags", "model_parameters", "modelParameters"}
)
_CACHE_READS = ("cache_read", "cached")
_CACHE_WRITES = ("cache_creation", "cache_write")


def field(record: Record, camel: str, snake: str) -> Any:
    """A field spelled in camelCase (API) or snake_case (blob export)."""
    return first(record.get(camel), record.get(snake))


def is_observation(record: Record) -> bool:
    """An observation: a type, its trace and a start time."""
    return (
        "type" in record
        and ("traceId" in record or "trace_id" in record)
        and ("startTime" in record or "start_time" in record)
    )


def is_page(record: Record) -> bool:
    """A page of the observations API: `data` holding observations, and `meta`."""
    data = record.get("data")
    return (
        "meta" in record
        and isinstance(data, list)
        and bool(data)
        and isinstance(data[0], Mapping)
        and is_observation(data[0])
    )


def detect(record: Record) -> bool:
    """A Langfuse observation, or a page of them."""
    return is_observation(record) or is_page(record)


def is_model_call(observation: Record) -> bool:
    """A generation or an embedding: the observation types that are model calls."""
    return str(observation.get("type") or "").upper() in MODEL_CALLS


def expand(record: Record) -> list[dict[str, Any]]:
    """The model calls of a record: itself, or a page's observations; none for other types."""
    if not is_page(record):
        return [dict(record)] if is_model_call(record) else []
    return [
        {**observation, SCRUBBED: content_keys(observation)}
        for observation in record["data"]
        if isinstance(observation, Mapping) and is_model_call(observation)
    ]


def expand_row(row: Record) -> list[dict[str, Any]]:
    """A CSV row read as the observation it was exported from, if it is a model call."""
    observation = csv_record(row, _CSV_NUMBERS, _CSV_OBJECTS)
    return [observation] if is_model_call(observation) else []


def side_of(key: str) -> str | None:
    """Whether a usage key counts input or output tokens (None for totals, costs, units)."""
    name = key.lower()
    if "cost" in name:  # the legacy `usage` object carries USD next to the counts
        return None
    if "input" in name or name.startswith("cache"):  # `cached_modality_*`: cached input
        return "input"
    return "output" if "output" in name else None


def usage_counts(usage: Mapping[str, Any]) -> dict[str, int]:
    """Canonical counts from usage keys: the input keys and output keys summed, and the
    cache-read, cache-write and reasoning keys among them."""
    sums = dict.fromkeys(("input", "output", "cached", "write", "reasoning"), 0)
    for key, value in usage.items():
        side, name = side_of(str(key)), str(key).lower()
        if side is None:
            continue
        count = part(value, f"usageDetails.{key}")
        sums[side] += count
        if side == "input" and any(word in name for word in _CACHE_READS):
            sums["cached"] += count
        elif side == "input" and any(word in name for word in _CACHE_WRITES):
            sums["write"] += count
        elif side == "output" and "reasoning" in name:
            sums["reasoning"] += count
    return {
        "input_tokens": sums["input"],
        "output_tokens": sums["output"],
        "cached_input_tokens": sums["cached"],
        "cache_write_tokens": sums["write"],
        "reasoning_tokens": sums["reasoning"],
    }


def latency_ms(observation: Record) -> object:
    """Milliseconds: `latency` is in seconds; else the span from start to end."""
    latency = observation.get("latency")
    if type(latency) in (int, float):
        return latency * 1000
    start = field(observation, "startTime", "start_time")
    return milliseconds_between(start, field(observation, "endTime", "end_time"))


def outcome(observation: Record) -> dict[str, object]:
    """A failed call (`level: ERROR`) and its status message."""
    if str(observation.get("level") or "").upper() != "ERROR":
        return {"status": None, "error_type": None}
    message = field(observation, "statusMessage", "status_message")
    return {"status": "error", "error_type": str(message or "error")[:200]}


def max_tokens(observation: Record) -> int | None:
    """The call's token limit, when its (free-form) model parameters give a whole number."""
    parameters = mapping(field(observation, "modelParameters", "model_parameters"))
    return whole_number(first(parameters.get("max_tokens"), parameters.get("max_output_tokens")))


def map_one(observation: Record) -> tuple[dict[str, object], dict[str, str]]:
    """One generation or embedding -> canonical raw values."""
    usage = mapping(field(observation, "usageDetails", "usage_details")) or mapping(
        observation.get("usage")
    )
    values = {
        "timestamp": utc_text(field(observation, "startTime", "start_time")),
        "request_id": observation.get("id"),
        "model": field(observation, "providedModelName", "provided_model_name")
        or observation.get("model"),
        **usage_counts(usage),
        "latency_ms": latency_ms(observation),
        **outcome(observation),
        "feature": _joined(observation.get("tags")) or None,
        "tags": observation.get("tags") or None,
        "environment": observation.get("environment") or None,
        "user": field(observation, "userId", "user_id"),
        "max_tokens": max_tokens(observation),
    }
    names = {
        "timestamp": "startTime",
        "request_id": "id",
        "model": "providedModelName",
        "latency_ms": "latency",
        "error_type": "statusMessage",
        "feature": "tags",
        "tags": "tags",
        "user": "userId",
    }
    return values, names


def map_records(records: list[Record], state: dict[str, Any]) -> Mapped:
    """Langfuse generations and embeddings -> canonical columns."""
    return map_objects(records, map_one)


FORMATS = [
    Format(
        name="langfuse",
        description="Langfuse observations (blob export JSON lines or JSON, or API pages)",
        priority=55,
        detect=detect,
        map=map_records,
        family="langfuse",
        expand=expand,
    ),
    Format(
        name="langfuse_csv",
        description="Langfuse observations as CSV (blob export)",
        priority=56,
        detect=is_observation,
        map=map_records,
        shape="csv",
        family="langfuse",
        expand=expand_row,
    ),
]
