"""LiteLLM's daily spend tables, exported as JSON or CSV, read as usage buckets.

The proxy keeps one row per day and grouping in `LiteLLM_DailyUserSpend`,
`LiteLLM_DailyTeamSpend`, `LiteLLM_DailyTagSpend` (and the organization, end-user and agent
tables of the same shape; `schema.prisma` in BerriAI/litellm): `date` ("YYYY-MM-DD"),
`api_key` (the hashed virtual key), `model`, `model_group`, `custom_llm_provider`,
`mcp_namespaced_tool_name`, `endpoint`, `prompt_tokens`, `completion_tokens`,
`cache_read_input_tokens`, `cache_creation_input_tokens`, `spend`, `api_requests`,
`successful_requests`, `failed_requests`, and the table's own column (`user_id`, `team_id`,
`tag`, `organization_id`, `end_user_id`, `agent_id`).

- Aggregates, not requests: each row becomes a usage bucket of that UTC day, counted by the
  gateway (`source` "litellm-daily") for its provider (`custom_llm_provider`; "unknown" when
  empty), so reconciliation can set what the gateway counted beside what was logged and billed.
- Token semantics as in LiteLLM's spend logs (`core.logs.formats.litellm`): `prompt_tokens`
  includes the cache reads and writes beside it in current releases; cache parts that do not fit
  inside it were left out by an older release and are added back (`prompt_total`).
  `completion_tokens` is the output. `api_requests` (successful and failed) is the request
  count.
- `spend` is the gateway's own price: never read; Costdesk prices the counts itself.
- Team and organization ids are the project, user and end-user ids the user. LiteLLM keys its
  rows also by the key hash, endpoint, MCP tool, tag and agent; Costdesk stores a digest of
  those as the bucket's key id (never the hash itself), so every row of LiteLLM's table stays
  one bucket and re-importing the same export changes nothing. The user, team and tag tables
  count the same traffic three ways: import one of them for a range of days.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from core.logs.formats import Format, Record
from core.logs.formats.litellm import csv_record, prompt_total
from core.logs.formats.usage_pages import merged_usage, total, usage_row
from core.logs.rules import RecordError

SOURCE = "litellm-daily"
_REQUIRED = frozenset({"date", "api_key", "prompt_tokens", "completion_tokens", "api_requests"})
_COUNTS = frozenset(
    {
        "prompt_tokens",
        "completion_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
        "api_requests",
        "successful_requests",
        "failed_requests",
    }
)
_KEYED_BY = ("api_key", "endpoint", "mcp_namespaced_tool_name", "tag", "agent_id")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def detect(record: Record) -> bool:
    """A row of one of LiteLLM's daily spend tables."""
    return record.keys() >= _REQUIRED


def day_span(value: object) -> tuple[datetime, datetime]:
    """A table's `date` ("YYYY-MM-DD") as the UTC day [start, end)."""
    if not isinstance(value, str) or not _DAY.fullmatch(value.strip()):
        raise RecordError("date", f"must be a day as YYYY-MM-DD (got {value!r:.30})")
    try:
        start = datetime.fromisoformat(value.strip()).replace(tzinfo=UTC)
    except ValueError:
        raise RecordError("date", f"is not a calendar day ({value.strip()})") from None
    return start, start + timedelta(days=1)


def row_digest(row: Record) -> str:
    """A digest of the fields LiteLLM keys the row by that Costdesk does not store."""
    joined = "\x1f".join(str(row.get(name) or "") for name in _KEYED_BY)
    return "litellm:" + hashlib.sha256(joined.encode()).hexdigest()[:16]


def counts(row: Record) -> dict[str, int]:
    """Requests and tokens of one row, in Costdesk's convention."""
    read = total(row.get("cache_read_input_tokens"), "cache_read_input_tokens")
    write = total(row.get("cache_creation_input_tokens"), "cache_creation_input_tokens")
    prompt = total(row.get("prompt_tokens"), "prompt_tokens")
    return {
        "requests": total(row.get("api_requests"), "api_requests"),
        "input_tokens": total(prompt_total(prompt, read, write), "prompt_tokens"),
        "cached_input_tokens": read,
        "cache_write_tokens": write,
        "output_tokens": total(row.get("completion_tokens"), "completion_tokens"),
    }


def rows_of(row: Record) -> list[dict[str, Any]]:
    """One daily-table row (JSON) -> its usage bucket row."""
    start, end = day_span(row.get("date"))
    key = {
        "provider": row.get("custom_llm_provider") or "unknown",
        "source": SOURCE,
        "start_time": start,
        "end_time": end,
        "project_id": row.get("team_id") or row.get("organization_id"),
        "user_id": row.get("user_id") or row.get("end_user_id"),
        "api_key_id": row_digest(row),
        "model": row.get("model") or row.get("model_group"),
    }
    return merged_usage([usage_row(key, counts(row))])


def csv_rows_of(row: Record) -> list[dict[str, Any]]:
    """One daily-table CSV row -> its usage bucket row (counts read as numbers)."""
    return rows_of(csv_record(row, _COUNTS, frozenset()))


FORMATS = [
    Format(
        name="litellm_daily",
        description="LiteLLM daily spend tables (user, team, tag: JSON rows as usage buckets)",
        priority=24,
        detect=detect,
        rows=rows_of,
        kind="usage_buckets",
        family=SOURCE,
    ),
    Format(
        name="litellm_daily_csv",
        description="LiteLLM daily spend tables as CSV (usage buckets)",
        priority=24,
        detect=detect,
        rows=csv_rows_of,
        kind="usage_buckets",
        shape="csv",
        family=SOURCE,
    ),
]
