"""OpenAI Usage API (completions) and Costs API pages.

These are not request records: a Usage page holds token totals per time bucket (stored as
usage buckets), a Costs page the amounts billed per bucket and line item (stored as billed
costs). Both are flattened here to one row per (bucket, result) with its natural-key fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from core.logs.formats import Format, Record
from core.logs.rules import RecordError

MAX_TOTAL = 2**62  # a bucket's total; summed in SQL, so kept well under BIGINT's limit


def page_kind(page: Record) -> str | None:
    """`usage_api` or `costs_api` for a Usage/Costs page, else None."""
    if page.get("object") != "page" or not isinstance(page.get("data"), list):
        return None
    for bucket in page["data"]:
        for result in (bucket or {}).get("results") or ():
            kind = str((result or {}).get("object", ""))
            if "costs" in kind or "amount" in (result or {}):
                return "costs_api"
            return "usage_api"
    return "usage_api"


def total(value: object, field: str) -> int:
    """A non-negative whole number from a page (missing is 0)."""
    if value is None:
        return 0
    if type(value) is float and value.is_integer():
        value = int(value)
    if type(value) is not int or not 0 <= value < MAX_TOTAL:
        raise RecordError(field, f"must be a non-negative whole number (got {value!r:.40})")
    return value


def epoch(value: object, field: str) -> datetime:
    """Unix seconds -> UTC datetime."""
    if type(value) not in (int, float) or not 0 <= value < 253402300800:
        raise RecordError(field, "must be Unix seconds (a non-negative number)")
    return datetime.fromtimestamp(value, UTC)


def _buckets(page: Record) -> list[Mapping[str, Any]]:
    data = page.get("data")
    if not isinstance(data, list):
        raise RecordError("data", "a Usage/Costs API page needs a `data` list of buckets")
    return [b for b in data if isinstance(b, Mapping)]


def _results(page: Record) -> list[tuple[datetime, datetime, Mapping[str, Any]]]:
    out = []
    for bucket in _buckets(page):
        start = epoch(bucket.get("start_time"), "start_time")
        end = epoch(bucket.get("end_time"), "end_time")
        out += [(start, end, r) for r in bucket.get("results") or () if isinstance(r, Mapping)]
    return out


def usage_rows(page: Record) -> list[dict[str, Any]]:
    """A Usage API page -> one row per (bucket, result) with its natural-key fields."""
    return [
        {
            "start_time": start,
            "end_time": end,
            "project_id": r.get("project_id") or "",
            "user_id": r.get("user_id") or "",
            "api_key_id": r.get("api_key_id") or "",
            "model": r.get("model") or "",
            "batch": bool(r.get("batch")),
            "service_tier": r.get("service_tier") or "",
            "requests": total(r.get("num_model_requests"), "num_model_requests"),
            "input_tokens": total(r.get("input_tokens"), "input_tokens"),
            "cached_input_tokens": total(r.get("input_cached_tokens"), "input_cached_tokens"),
            "cache_write_tokens": total(
                r.get("input_cache_write_tokens"), "input_cache_write_tokens"
            ),
            "output_tokens": total(r.get("output_tokens"), "output_tokens"),
        }
        for start, end, r in _results(page)
    ]


def cost_rows(page: Record) -> list[dict[str, Any]]:
    """A Costs API page -> one row per (bucket, result): amount as a decimal string."""
    rows = []
    for start, end, result in _results(page):
        amount = result.get("amount") or {}
        value = amount.get("value")
        if value is None or isinstance(value, bool):
            raise RecordError("amount.value", "is required")
        line_item = result.get("line_item") or ""
        rows.append(
            {
                "start_time": start,
                "end_time": end,
                "project_id": result.get("project_id") or "",
                "api_key_id": result.get("api_key_id") or "",
                "line_item": line_item,
                "model": line_item.split(",", 1)[0].strip() if "," in line_item else "",
                "amount": str(value),
                "currency": (amount.get("currency") or "usd").lower(),
            }
        )
    return rows


FORMATS = [
    Format(
        name="usage_api",
        description="OpenAI Usage API pages (usage buckets)",
        priority=10,
        detect=lambda record: page_kind(record) == "usage_api",
        rows=usage_rows,
        kind="usage_buckets",
        family="openai-usage",
    ),
    Format(
        name="costs_api",
        description="OpenAI Costs API pages (billed costs)",
        priority=11,
        detect=lambda record: page_kind(record) == "costs_api",
        rows=cost_rows,
        kind="billed_costs",
        family="openai-costs",
    ),
]
