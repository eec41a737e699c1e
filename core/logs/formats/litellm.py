"""LiteLLM proxy logs: `StandardLoggingPayload` JSON lines and the `LiteLLM_SpendLogs` table.

Token semantics (LiteLLM's logging spec `docs/proxy/logging_spec.md`, its
`spend_tracking_utils.py` and the Anthropic and Bedrock transformations):
- `prompt_tokens` follows OpenAI's convention in current releases: it includes cache reads
  (`prompt_tokens_details.cached_tokens`, also `cache_read_input_tokens`) and cache writes
  (`prompt_tokens_details.cache_creation_tokens`, also `cache_creation_input_tokens`), which
  sit in `metadata.usage_object`. Some releases left cache writes out of it for Anthropic and
  Bedrock, and some left every cache count out for `anthropic_messages` calls
  (BerriAI/litellm#9838, #15270, #23342). A release is told by its counts: parts that do not
  fit inside `prompt_tokens` were left out of it and are added back (reads first, since
  reads were kept in when writes were not). When they fit, they are taken as included.
- `completion_tokens` includes `completion_tokens_details.reasoning_tokens` (Gemini thoughts
  were added to it in 2025; a reasoning count larger than it marks an older release, and is
  added back the same way).
- `response_cost` and `spend` are the gateway's own prices: never read; Costdesk prices the
  counts with its own book. A hit in LiteLLM's response cache (`cache_hit`) never reached a
  provider: it is kept as a request with no billed tokens.
- `startTime`/`endTime` are Unix seconds; the spend-log table's are UTC text without a zone
  (Prisma writes UTC), read as UTC.
- Labels: `metadata.user_api_key_team_alias` (else the team id) is the project and the team,
  `request_tags` the tags (and, joined, the feature), `end_user` (else the key owner's user
  id) the user, `metadata.user_api_key_alias` the key label. The key hash (`api_key`,
  `metadata.user_api_key_hash`) is never read.

The helpers below are shared by the other gateway formats (Helicone, Langfuse).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import orjson

from core.logs.events import Mapped
from core.logs.formats import Format, MapFn, Record
from core.logs.formats.csv_rows import cell_value
from core.logs.formats.flat import _joined
from core.logs.formats.openai import details, finish_of, map_objects
from core.logs.rules import Epoch, RecordError, Refused, accept_zero_count

_NAIVE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?")
_SPEND_LOG_COLUMNS = frozenset({"request_id", "startTime", "spend"})
_CSV_NUMBERS = frozenset({"prompt_tokens", "completion_tokens", "request_duration_ms"})
_CSV_OBJECTS = frozenset({"metadata", "request_tags", "response"})
_USAGE = "metadata.usage_object"


# ---------------------------------------------------------------------------------------------
# Helpers the gateway formats share


def utc_text(value: object) -> object:
    """A zone-less time from a store that writes UTC, marked as UTC; other values as given."""
    if isinstance(value, str) and _NAIVE_TIME.fullmatch(value.strip()):
        return value.strip().replace(" ", "T", 1) + "Z"
    return value


def moment(value: object) -> object:
    """A time as the timestamp rule reads it: numbers are Unix seconds, texts RFC 3339."""
    if type(value) in (int, float):
        return Epoch(value)
    return utc_text(value)


def part(value: object, name: str) -> int:
    """A count that is summed with others, so checked here (missing is 0)."""
    try:
        return accept_zero_count(value)
    except Refused as refused:
        raise RecordError(name, str(refused)) from None


def total(value: object, name: str, *parts: int) -> int | None:
    """A required count with the parts its source keeps beside it added; a missing count stays
    missing, so the rule reports it as required."""
    return None if value is None else part(value, name) + sum(parts)


def whole_number(value: object) -> int | None:
    """A whole number given as one or as digits; None for anything else. For free-form
    settings (request parameters, error codes) that must not reject the call they describe."""
    if type(value) is int:
        return value
    return (
        int(value)
        if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit()
        else None
    )


def mapping(value: object) -> Mapping[str, Any]:
    """An object, or an empty one for anything else."""
    return value if isinstance(value, Mapping) else {}


def first(*values: object) -> object:
    """The first value that is not missing."""
    return next((v for v in values if v is not None), None)


def milliseconds_between(start: object, end: object) -> float | None:
    """Milliseconds from `start` to `end` (Unix seconds or RFC 3339 texts); None if unknown."""
    if type(start) in (int, float) and type(end) in (int, float):
        return (end - start) * 1000
    try:
        began, ended = (datetime.fromisoformat(str(utc_text(t))) for t in (start, end))
        return (ended - began).total_seconds() * 1000
    except (TypeError, ValueError):
        return None


def json_cell(column: str, text: str) -> object:
    """A CSV cell holding JSON (an object or a list) parsed; plain text stays text."""
    value = text.strip()
    if not value or value.lower() in ("null", "none"):
        return None
    if value[0] not in "[{":
        return value
    for candidate in (value, value.replace('""', '"')):  # some exporters double quotes twice
        try:
            return orjson.loads(candidate)
        except orjson.JSONDecodeError:
            continue
    raise RecordError(column, "is not valid JSON")


def csv_record(row: Record, numbers: frozenset[str], objects: frozenset[str]) -> dict[str, object]:
    """A CSV row as the JSON record it was exported from: empty cells missing, the `numbers`
    columns as numbers, the `objects` columns parsed from JSON, other cells as text."""
    record: dict[str, object] = {}
    for column, text in row.items():
        if not isinstance(column, str) or not isinstance(text, str):
            continue
        if column in objects:
            record[column] = json_cell(column, text)
        else:  # `cell_value` reads a count field's cell as a number and any other as text
            record[column] = cell_value("max_tokens" if column in numbers else "model", text)
    return record


def csv_map(
    one: Callable[[Record], tuple[dict[str, object], dict[str, str]]],
    numbers: frozenset[str],
    objects: frozenset[str],
) -> MapFn:
    """A CSV format's map: each row read as the JSON record it was exported from, then by
    `one`, the JSON format's mapping of one record."""
    return lambda rows, state: map_objects(rows, lambda row: one(csv_record(row, numbers, objects)))


# ---------------------------------------------------------------------------------------------
# LiteLLM


def detect(record: Record) -> bool:
    """A StandardLoggingPayload: a call type, prompt tokens and LiteLLM's routing fields."""
    return (
        "call_type" in record
        and "prompt_tokens" in record
        and ("model_group" in record or "response_cost" in record)
    )


def detect_row(row: Record) -> bool:
    """A row of the LiteLLM_SpendLogs table."""
    return row.keys() >= _SPEND_LOG_COLUMNS


def prompt_total(prompt: int, read: int, write: int) -> int:
    """`prompt_tokens` as Costdesk's input: cache parts that do not fit inside it were left
    out by the release that logged it (reads were kept in where writes were not)."""
    if read + write <= prompt:
        return prompt
    return prompt + write if read <= prompt else prompt + read + write


def _named(*candidates: tuple[object, str]) -> tuple[object, str]:
    """The first present value among (value, source name) pairs, with its name."""
    return next((c for c in candidates if c[0] is not None), candidates[0])


def _detail_counts(usage: Mapping[str, Any]) -> tuple[int, int, int]:
    """Cache reads, cache writes and reasoning tokens of a `usage_object`."""
    prompt_details = details(usage, "prompt_tokens_details")
    read, read_name = _named(
        (prompt_details.get("cached_tokens"), "prompt_tokens_details.cached_tokens"),
        (usage.get("cache_read_input_tokens"), "cache_read_input_tokens"),
    )
    write, write_name = _named(
        (
            prompt_details.get("cache_creation_tokens"),
            "prompt_tokens_details.cache_creation_tokens",
        ),
        (usage.get("cache_creation_input_tokens"), "cache_creation_input_tokens"),
    )
    reasoning = details(usage, "completion_tokens_details").get("reasoning_tokens")
    return (
        part(read, f"{_USAGE}.{read_name}"),
        part(write, f"{_USAGE}.{write_name}"),
        part(reasoning, f"{_USAGE}.completion_tokens_details.reasoning_tokens"),
    )


def usage_counts(record: Record) -> dict[str, object]:
    """Input, output, cached, cache-write and reasoning counts of one payload."""
    usage = mapping(mapping(record.get("metadata")).get("usage_object"))
    prompt = first(record.get("prompt_tokens"), usage.get("prompt_tokens"))
    if prompt is None:
        raise RecordError("prompt_tokens", "is required")
    prompt = part(prompt, "prompt_tokens")
    completion = first(record.get("completion_tokens"), usage.get("completion_tokens"))
    completion = part(completion, "completion_tokens")
    read, write, reasoning = _detail_counts(usage)
    if _is_true(record.get("cache_hit")):
        return {"input_tokens": 0, "output_tokens": 0}
    return {
        "input_tokens": prompt_total(prompt, read, write),
        "output_tokens": completion if reasoning <= completion else completion + reasoning,
        "cached_input_tokens": read,
        "cache_write_tokens": write,
        "reasoning_tokens": reasoning,
    }


def _is_true(value: object) -> bool:
    """LiteLLM's cache flag: a boolean in payloads, text in the spend-log table."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def outcome(record: Record, metadata: Mapping[str, Any]) -> dict[str, object]:
    """Status and error: the error code, when it is an HTTP status, on a failure."""
    error = mapping(first(record.get("error_information"), metadata.get("error_information")))
    status = first(record.get("status"), metadata.get("status"))
    if not (isinstance(status, str) and status.lower() == "failure"):
        return {"status": status, "error_type": None}
    code = whole_number(error.get("error_code"))
    return {
        "status": status if code is None else code,
        "error_type": error.get("error_class") or error.get("error_code") or None,
    }


def labels(record: Record, metadata: Mapping[str, Any]) -> dict[str, object]:
    """Project and team (the key's team), feature and tags (request tags), user (end user,
    else the key's owner) and key label (the key's alias)."""
    team = first(
        metadata.get("user_api_key_team_alias"),
        metadata.get("user_api_key_team_id"),
        record.get("team_id"),
    )
    return {
        "project": team,
        "team": team,
        "key_label": metadata.get("user_api_key_alias") or None,
        "tags": record.get("request_tags") or None,
        "feature": _joined(record.get("request_tags")) or None,
        "user": first(
            record.get("end_user") or None,
            metadata.get("user_api_key_user_id"),
            record.get("user") or None,
        ),
    }


def map_one(record: Record) -> tuple[dict[str, object], dict[str, str]]:
    """One payload (or spend-log row read as one) -> canonical raw values."""
    metadata = mapping(record.get("metadata"))
    start = first(record.get("startTime"), record.get("start_time"))
    end = first(record.get("endTime"), record.get("end_time"))
    parameters = mapping(record.get("model_parameters"))
    response = mapping(record.get("response"))
    values = {
        "timestamp": moment(start),
        "request_id": first(record.get("id"), record.get("request_id")),
        "model": record.get("model") or record.get("model_group"),
        **usage_counts(record),
        "latency_ms": first(record.get("request_duration_ms"), milliseconds_between(start, end)),
        **outcome(record, metadata),
        **labels(record, metadata),
        "finish_reason": finish_of(response) if response else None,
        "max_tokens": whole_number(
            first(parameters.get("max_tokens"), parameters.get("max_completion_tokens"))
        ),
        "provider": record.get("custom_llm_provider") or None,
    }
    names = {
        "timestamp": "startTime" if "startTime" in record else "start_time",
        "request_id": "id" if "id" in record else "request_id",
        "input_tokens": "prompt_tokens",
        "output_tokens": "completion_tokens",
        "status": "status",
        "project": "metadata.user_api_key_team_alias",
        "team": "metadata.user_api_key_team_alias",
        "key_label": "metadata.user_api_key_alias",
        "tags": "request_tags",
        "feature": "request_tags",
        "user": "end_user",
        "max_tokens": "model_parameters.max_tokens",
    }
    return values, names


def map_records(records: list[Record], state: dict[str, Any]) -> Mapped:
    """StandardLoggingPayload records -> canonical columns."""
    return map_objects(records, map_one)


FORMATS = [
    Format(
        name="litellm",
        description="LiteLLM proxy logs (StandardLoggingPayload JSON lines)",
        priority=25,  # before Anthropic/OpenAI: a payload's `response` may hold their objects
        detect=detect,
        map=map_records,
        wrappers=("response",),
        family="litellm",
    ),
    Format(
        name="litellm_csv",
        description="LiteLLM spend logs (the LiteLLM_SpendLogs table as CSV)",
        priority=26,
        detect=detect_row,
        map=csv_map(map_one, _CSV_NUMBERS, _CSV_OBJECTS),
        shape="csv",
        family="litellm",
    ),
]
