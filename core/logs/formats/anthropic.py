"""Anthropic Messages objects, bare or wrapped.

Anthropic's `input_tokens` leaves out cache reads and writes, which Costdesk counts inside
input (OpenAI's convention); so on the way in: input = `input_tokens` +
`cache_creation_input_tokens` + `cache_read_input_tokens`, cached = the reads, cache write =
the writes. `stop_reason` `max_tokens` means the response was cut (`length`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.logs.events import Mapped
from core.logs.formats import Format, Record
from core.logs.formats.openai import (
    WRAPPER_KEYS,
    details,
    map_objects,
    outcome,
    split_wrapper,
    when,
)
from core.logs.rules import RecordError, Refused, accept_count

STOP_REASONS = {"max_tokens": "length", "end_turn": "stop", "stop_sequence": "stop"}


def detect(record: Record) -> bool:
    """A Messages object (`type: message`, or usage with Anthropic's cache-read count)."""
    _, body = split_wrapper(record)
    usage = body.get("usage")
    return body.get("type") == "message" or (
        isinstance(usage, Mapping) and "cache_read_input_tokens" in usage
    )


def _part(usage: Mapping[str, Any], key: str) -> int:
    """One of the counts that add up to the input, checked here because it is summed."""
    value = usage.get(key)
    try:
        return accept_count(0 if value is None else value)
    except Refused as refused:
        raise RecordError(f"usage.{key}", str(refused)) from None


def map_one(record: Record) -> tuple[dict[str, object], dict[str, str]]:
    """One Message -> canonical raw values."""
    wrapper, body = split_wrapper(record)
    usage = body.get("usage")
    if not isinstance(usage, Mapping):
        raise RecordError("usage", "is required")
    if usage.get("input_tokens") is None:
        raise RecordError("usage.input_tokens", "is required")
    uncached = _part(usage, "input_tokens")
    write = _part(usage, "cache_creation_input_tokens")
    read = _part(usage, "cache_read_input_tokens")
    stop = body.get("stop_reason")
    ts, ts_name = when(wrapper, body)
    values = {
        **outcome(wrapper, body),
        "timestamp": ts,
        "request_id": wrapper.get("request_id") or body.get("id"),
        "model": body.get("model"),
        "input_tokens": uncached + write + read,
        "output_tokens": usage.get("output_tokens"),
        "cached_input_tokens": read,
        "cache_write_tokens": write,
        "reasoning_tokens": details(usage, "output_tokens_details").get("thinking_tokens"),
        "finish_reason": STOP_REASONS.get(stop, stop) if isinstance(stop, str) else stop,
        "provider": "anthropic",
    }
    tier = usage.get("service_tier") or values["service_tier"]
    values["service_tier"] = tier
    values["batch"] = tier == "batch"
    names = {
        "timestamp": ts_name,
        "request_id": "id",
        "input_tokens": "usage.input_tokens",
        "output_tokens": "usage.output_tokens",
        "reasoning_tokens": "usage.output_tokens_details.thinking_tokens",
        "finish_reason": "stop_reason",
    }
    return values, names


def map_records(records: list[Record], state: dict[str, Any]) -> Mapped:
    """Anthropic Messages -> canonical columns."""
    return map_objects(records, map_one)


FORMAT = Format(
    name="anthropic",
    description="Anthropic Messages objects",
    priority=30,
    detect=detect,
    map=map_records,
    wrappers=WRAPPER_KEYS,
)
