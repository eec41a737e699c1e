"""Helicone request exports (`npx @helicone/export`): a JSON array, JSON lines or CSV.

Token semantics (Helicone's body processors `valhalla/jawn/src/lib/shared/bodyProcessors/`
and its cost code `packages/cost/index.ts`, which prices `prompt_tokens` as "the fresh,
uncached tokens"):
- `prompt_tokens` EXCLUDES cache reads and writes: for OpenAI responses Helicone stores the
  provider's `prompt_tokens` minus `cached_tokens` (and minus prompt audio tokens); for
  Anthropic it stores `input_tokens`, which never held them. `prompt_cache_read_tokens`,
  `prompt_cache_write_tokens` and `prompt_audio_tokens` sit beside it, so on the way in:
  input = prompt + cache reads + cache writes + prompt audio; cached = the reads; cache
  write = the writes.
- `completion_tokens` includes reasoning tokens (OpenAI's count, and Gemini's candidates plus
  thoughts) but not `completion_audio_tokens`, which is added back: output = completion +
  completion audio.
- `cost`/`costUSD` are Helicone's own prices: never read.
- `request_created_at` is the call's time (ClickHouse writes it in UTC; a zone-less text is
  read as UTC); `delay_ms` (`latency` in the CSV) is milliseconds; `response_status` is the
  HTTP status.
- Labels: `request_user_id` is the user; the custom properties sent as
  `Helicone-Property-Feature` and `Helicone-Property-Project` headers (Helicone's own
  examples) are the feature and the project, matched without regard to case. Other
  properties (environment, session) have no canonical field yet.
- The model is the one Helicone prices with: `model_override`, else `response_model`, else
  `request_model`, else `model` (the CSV's only model column).
- The CSV export has no `request_id` column: `response_id` is the record's id there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.logs.events import Mapped
from core.logs.formats import Format, Record
from core.logs.formats.litellm import csv_map, first, mapping, part, total, utc_text
from core.logs.formats.openai import map_objects

_BODIES = ("request_body", "response_body")
_CSV_COLUMNS = frozenset({"request_created_at", "response_status"})
_CSV_NUMBERS = frozenset(
    {
        "prompt_tokens",
        "completion_tokens",
        "prompt_cache_read_tokens",
        "prompt_cache_write_tokens",
        "prompt_audio_tokens",
        "completion_audio_tokens",
        "reasoning_tokens",
        "response_status",
        "delay_ms",
        "latency",
    }
)
_CSV_OBJECTS = frozenset({"request_properties"})
_PROPERTY_PREFIX = "helicone-property-"


def detect(record: Record) -> bool:
    """A Helicone request record."""
    return "request_created_at" in record and (
        "response_status" in record or "prompt_tokens" in record
    )


def detect_row(row: Record) -> bool:
    """A row of Helicone's CSV export."""
    return row.keys() >= _CSV_COLUMNS


def prop(properties: Mapping[str, Any], name: str) -> object:
    """A custom property by name, whatever its case, with or without the header prefix."""
    for key, value in properties.items():
        bare = key.lower().removeprefix(_PROPERTY_PREFIX)
        if bare == name:
            return value
    return None


def usage_counts(record: Record) -> dict[str, object]:
    """Input (uncached + cache reads + writes + audio) and output (completion + audio)."""
    read = part(record.get("prompt_cache_read_tokens"), "prompt_cache_read_tokens")
    write = part(record.get("prompt_cache_write_tokens"), "prompt_cache_write_tokens")
    audio_in = part(record.get("prompt_audio_tokens"), "prompt_audio_tokens")
    audio_out = part(record.get("completion_audio_tokens"), "completion_audio_tokens")
    return {
        "input_tokens": total(record.get("prompt_tokens"), "prompt_tokens", read, write, audio_in),
        "output_tokens": total(record.get("completion_tokens"), "completion_tokens", audio_out),
        "cached_input_tokens": read,
        "cache_write_tokens": write,
        "reasoning_tokens": record.get("reasoning_tokens"),
    }


def map_one(record: Record) -> tuple[dict[str, object], dict[str, str]]:
    """One Helicone request -> canonical raw values."""
    properties = mapping(record.get("request_properties"))
    values = {
        "timestamp": utc_text(record.get("request_created_at")),
        "request_id": first(record.get("request_id"), record.get("response_id")),
        "model": record.get("model_override")
        or record.get("response_model")
        or record.get("request_model")
        or record.get("model"),
        **usage_counts(record),
        "latency_ms": first(record.get("delay_ms"), record.get("latency")),
        "status": record.get("response_status"),
        "project": prop(properties, "project"),
        "feature": prop(properties, "feature"),
        "user": record.get("request_user_id") or None,
        "provider": record.get("provider") or None,
    }
    names = {
        "timestamp": "request_created_at",
        "request_id": "request_id" if record.get("request_id") else "response_id",
        "input_tokens": "prompt_tokens",
        "output_tokens": "completion_tokens",
        "latency_ms": "delay_ms" if "delay_ms" in record else "latency",
        "status": "response_status",
        "project": "request_properties.Project",
        "feature": "request_properties.Feature",
        "user": "request_user_id",
    }
    return values, names


def map_records(records: list[Record], state: dict[str, Any]) -> Mapped:
    """Helicone request records -> canonical columns."""
    return map_objects(records, map_one)


FORMATS = [
    Format(
        name="helicone",
        description="Helicone request export (@helicone/export JSON or JSON lines)",
        priority=50,
        detect=detect,
        map=map_records,
        wrappers=_BODIES,
        family="helicone",
    ),
    Format(
        name="helicone_csv",
        description="Helicone request export as CSV (@helicone/export --format csv)",
        priority=51,
        detect=detect_row,
        map=csv_map(map_one, _CSV_NUMBERS, _CSV_OBJECTS),
        shape="csv",
        family="helicone",
    ),
]
