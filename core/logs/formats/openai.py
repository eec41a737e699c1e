"""OpenAI Chat Completions, Responses and Embeddings objects, bare or inside a wrapper.

A wrapper is an object holding the API object under `response`, `body` or `result` next to
what the caller measured (`latency_ms`, `status`, `timestamp`, `project`, ...). Chat objects
count `prompt_tokens`/`completion_tokens`, Responses `input_tokens`/`output_tokens`; both
include cached and reasoning tokens, as Costdesk's fields do. Missing `*_details` are zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.logs.events import FIELDS, Mapped
from core.logs.formats import Format, Record
from core.logs.rules import Epoch, RecordError

WRAPPER_KEYS = ("response", "body", "result")
OBJECTS = ("chat.completion", "response", "list", "text_completion")


def split_wrapper(record: Record) -> tuple[Record, Record]:
    """(wrapper fields, API object) of a record; the wrapper is empty for a bare object."""
    for key in WRAPPER_KEYS:
        inner = record.get(key)
        if isinstance(inner, Mapping) and (
            "usage" in inner or "object" in inner or "error" in inner
        ):
            return record, inner
    return {}, record


def detect(record: Record) -> bool:
    """An OpenAI API object, bare or wrapped."""
    _, body = split_wrapper(record)
    if body.get("object") in OBJECTS:
        return True
    return isinstance(body.get("usage"), Mapping) and body is not record


def details(usage: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """A `*_details` object of a usage, empty when missing."""
    value = usage.get(name)
    return value if isinstance(value, Mapping) else {}


def usage_values(usage: object) -> tuple[dict[str, object], dict[str, str]]:
    """Chat or Responses usage -> canonical raw counts, and the source name of each."""
    if usage is None:
        return {"input_tokens": 0, "output_tokens": 0}, {}
    if not isinstance(usage, Mapping):
        raise RecordError("usage", "must be an object")
    chat = "prompt_tokens" in usage
    inp, out = ("prompt_tokens", "completion_tokens") if chat else ("input_tokens", "output_tokens")
    in_details = details(usage, f"{inp}_details")
    out_details = details(usage, f"{out}_details")
    values = {
        "input_tokens": usage.get(inp),
        "output_tokens": usage.get(out, 0),
        "cached_input_tokens": in_details.get("cached_tokens"),
        "cache_write_tokens": in_details.get("cache_write_tokens"),
        "reasoning_tokens": out_details.get("reasoning_tokens"),
    }
    names = {
        "input_tokens": f"usage.{inp}",
        "output_tokens": f"usage.{out}",
        "cached_input_tokens": f"usage.{inp}_details.cached_tokens",
        "cache_write_tokens": f"usage.{inp}_details.cache_write_tokens",
        "reasoning_tokens": f"usage.{out}_details.reasoning_tokens",
    }
    return values, names


def meta(wrapper: Record, body: Record, key: str) -> object:
    """A caller's label from the wrapper, the object's `metadata` or the object itself."""
    for source in (wrapper, body.get("metadata") or {}, body):
        if isinstance(source, Mapping) and source.get(key) is not None:
            return source.get(key)
    return None


def when(wrapper: Record, body: Record) -> tuple[object, str]:
    """The record's time (RFC 3339 text or `Epoch` seconds) and the key it came from."""
    for source, keys in (
        (wrapper, ("timestamp", "created_at", "created")),
        (body, ("created", "created_at")),
    ):
        for key in keys:
            value = source.get(key)
            if value is not None:
                return (value if isinstance(value, str) else Epoch(value)), key
    return None, "timestamp"


def error_of(wrapper: Record, body: Record) -> str:
    """The error code or type a failed call carries ("" when none)."""
    error = body.get("error") or wrapper.get("error")
    if isinstance(error, Mapping):
        return str(error.get("code") or error.get("type") or "error")
    if isinstance(error, str):
        return error[:200]
    return ""


def outcome(wrapper: Record, body: Record) -> dict[str, object]:
    """What the caller measured around the call: latency, status, labels, limits."""
    error_type = error_of(wrapper, body)
    status = wrapper.get("status_code", wrapper.get("status"))
    if status is None and body.get("status") in ("failed", "cancelled"):
        status = "error"
    latency = wrapper.get("latency_ms", wrapper.get("duration_ms"))
    return {
        "latency_ms": latency,
        "status": status,
        "error_type": error_type,
        "project": meta(wrapper, body, "project"),
        "feature": meta(wrapper, body, "feature"),
        "user": meta(wrapper, body, "user"),
        "max_tokens": meta(wrapper, body, "max_tokens") or body.get("max_output_tokens"),
        "service_tier": body.get("service_tier") or wrapper.get("service_tier"),
    }


def finish_of(body: Record) -> object:
    """The first choice's finish reason, or why a Response is incomplete."""
    incomplete = body.get("incomplete_details")
    if isinstance(incomplete, Mapping):
        return incomplete.get("reason")
    choices = body.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
        return choices[0].get("finish_reason")
    return None


def map_one(record: Record) -> tuple[dict[str, object], dict[str, str]]:
    """One object -> canonical raw values and the source names of the counts."""
    wrapper, body = split_wrapper(record)
    counts, names = usage_values(body.get("usage"))
    ts, ts_name = when(wrapper, body)
    names["timestamp"] = ts_name
    values = {
        "timestamp": ts,
        "request_id": wrapper.get("request_id") or body.get("id") or wrapper.get("id"),
        "model": body.get("model") or wrapper.get("model"),
        "finish_reason": finish_of(body),
        "provider": "openai",
        **counts,
        **outcome(wrapper, body),
    }
    names["request_id"] = "id"
    return values, names


def map_objects(records: list[Record], one: Any) -> Mapped:
    """Records mapped one at a time by `one`; a record it cannot read becomes an error."""
    mapped = Mapped(len(records))
    columns: dict[str, list] = {name: [None] * len(records) for name in FIELDS}
    names: dict[str, list[str]] = {name: [name] * len(records) for name in FIELDS}
    for row, record in enumerate(records):
        try:
            values, sources = one(record)
        except RecordError as err:
            mapped.errors[row] = err
            continue
        for name, value in values.items():
            columns[name][row] = value
        for name, source in sources.items():
            names[name][row] = source
    mapped.columns = columns
    mapped.names = dict(names)
    return mapped


def map_records(records: list[Record], state: dict[str, Any]) -> Mapped:
    """OpenAI objects -> canonical columns."""
    return map_objects(records, map_one)


FORMAT = Format(
    name="openai",
    description="OpenAI Chat Completions / Responses / Embeddings objects",
    priority=40,
    detect=detect,
    map=map_records,
    wrappers=WRAPPER_KEYS,
)
