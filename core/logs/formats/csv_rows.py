"""CSV with a header row, its columns mapped to the canonical fields.

The mapping comes from the user (`--map`, the Upload page) or is guessed from common column
names (LiteLLM, Helicone and Langfuse exports use some of them). Cells are text: counts and
statuses written as digits become numbers, empty cells and `null` are missing, and then the
same rules as every other format apply.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from core.logs.events import FIELDS, REQUIRED_FIELDS, Mapped
from core.logs.formats import Format, Record
from core.logs.rules import FileFormatError

NUMERIC_FIELDS = frozenset(
    {
        "input_tokens",
        "output_tokens",
        "cached_input_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "max_tokens",
    }
)
# Common names other tools use for the canonical fields.
ALIASES: dict[str, tuple[str, ...]] = {
    "timestamp": ("timestamp", "time", "created_at", "starttime", "request_created_at", "date"),
    "request_id": ("request_id", "id", "requestid", "response_id"),
    "model": ("model", "request_model", "response_model", "model_name"),
    "input_tokens": ("input_tokens", "prompt_tokens", "tokens_in"),
    "output_tokens": ("output_tokens", "completion_tokens", "tokens_out"),
    "cached_input_tokens": ("cached_input_tokens", "cached_tokens", "prompt_cache_read_tokens"),
    "cache_write_tokens": ("cache_write_tokens", "prompt_cache_write_tokens"),
    "reasoning_tokens": ("reasoning_tokens",),
    "latency_ms": ("latency_ms", "delay_ms", "request_duration_ms", "duration_ms", "latency"),
    "status": ("status", "response_status", "status_code"),
    "error_type": ("error_type", "error", "error_code"),
    "project": ("project", "project_id", "team_id"),
    "feature": ("feature", "tags", "request_tags"),
    "user": ("user", "user_id", "end_user", "request_user_id"),
    "finish_reason": ("finish_reason", "stop_reason"),
    "max_tokens": ("max_tokens",),
    "batch": ("batch",),
    "service_tier": ("service_tier",),
    "provider": ("provider", "custom_llm_provider"),
    "key_label": ("key_label", "key_alias", "api_key_alias", "user_api_key_alias", "key_name"),
    "team": ("team", "team_alias", "team_name"),
    "environment": ("environment", "env", "deployment_environment"),
    "tags": ("tags", "request_tags", "labels"),
}
_WHOLE = re.compile(r"\d+(\.0+)?")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def parse_mapping(spec: str) -> dict[str, str]:
    """`"timestamp=time,input_tokens=prompt_tokens"` -> {field: column}; ValueError if bad."""
    mapping = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, sep, column = part.partition("=")
        name, column = name.strip(), column.strip()
        if not sep or not column:
            raise ValueError(f"mapping {part!r} is not FIELD=COLUMN")
        if name not in FIELDS:
            raise ValueError(f"unknown field {name!r}; fields are: {', '.join(FIELDS)}")
        mapping[name] = column
    return mapping


def guess_mapping(columns: Iterable[str]) -> dict[str, str]:
    """A first guess of {field: column} from the header, by exact and known names."""
    lowered = {c.strip().lower(): c for c in columns}
    guess = {}
    for name, aliases in ALIASES.items():
        for alias in aliases:
            if alias in lowered:
                guess[name] = lowered[alias]
                break
    return guess


def missing_fields(mapping: Mapping[str, str], columns: Iterable[str]) -> list[str]:
    """Required fields the mapping does not cover with a column of the header."""
    present = set(columns)
    return [f for f in REQUIRED_FIELDS if mapping.get(f) not in present]


def cell_value(name: str, raw: str | None) -> object:
    """A CSV cell as the value a JSON log would carry for field `name`."""
    value = (raw or "").strip()
    if value == "" or value.lower() in ("null", "none"):
        return None
    if name in NUMERIC_FIELDS:
        if _WHOLE.fullmatch(value):
            return int(value.split(".")[0])
        return float(value) if _NUMBER.fullmatch(value) else value
    if name == "latency_ms":
        return float(value) if _NUMBER.fullmatch(value) else value
    if name == "status" and value.isascii() and value.isdigit():
        return int(value)
    return value


def chosen_mapping(state: dict[str, Any]) -> dict[str, str]:
    """The mapping to read a CSV with: the one given, else one guessed from the header; a
    FileFormatError names the required fields no column covers."""
    columns = state.get("columns") or []
    mapping = state.get("mapping") or guess_mapping(columns)
    missing = missing_fields(mapping, columns)
    if missing:
        shown = ", ".join(columns[:12])
        raise FileFormatError(f"map the CSV columns for {', '.join(missing)} (header: {shown})")
    state["mapping"] = mapping
    return mapping


def map_records(records: list[Record], state: dict[str, Any]) -> Mapped:
    """CSV rows (dicts of cell text) -> canonical columns through the chosen mapping."""
    mapping: Mapping[str, str] = chosen_mapping(state)
    mapped = Mapped(len(records))
    for name, column in mapping.items():
        mapped.columns[name] = [cell_value(name, row.get(column)) for row in records]
        if column != name:
            mapped.names[name] = f"{name} (column {column})"
    return mapped


FORMAT = Format(
    name="csv",
    description="CSV with a header row (columns mapped to the flat-log fields)",
    priority=100,
    detect=lambda record: True,
    map=map_records,
    shape="csv",
)
