"""Anthropic Admin API reports: the Messages usage report and the cost report pages.

Shapes (Anthropic's API reference for `GET /v1/organizations/usage_report/messages` and
`GET /v1/organizations/cost_report`, and its usage and cost cookbook): a page is
`{data: [{starting_at, ending_at, results: [...]}], has_more, next_page}`, bucket edges RFC 3339
UTC. Like OpenAI's pages these are not request records: usage results become usage buckets,
cost results billed costs (`core.logs.formats.usage_pages` gives the row shapes).

Usage result: `uncached_input_tokens`, `cache_creation.ephemeral_5m_input_tokens` and
`.ephemeral_1h_input_tokens`, `cache_read_input_tokens`, `output_tokens`,
`server_tool_use.web_search_requests`, and the grouping fields `model`, `service_tier`
(`standard`, `batch`, `priority`, ...), `workspace_id`, `api_key_id`, `context_window`.
- The input parts are separate counts (as in the Messages API); Costdesk's input includes its
  cached part: input = uncached + cache reads + both cache writes, cached = the reads, cache
  write = 5-minute + 1-hour writes (one cache-write rate prices both; the 1-hour writes cost
  more, which shows as a difference).
- There is no request count: `requests` is 0. Web searches are billed as their own cost line.
- The workspace is the project (`null` is the default workspace); `batch` is the batch tier.
- A report grouped by a field Costdesk does not store (`context_window`, `inference_geo`)
  has several results per stored key in one bucket; they are summed.

Cost result: `amount` is a decimal string in the currency's minor unit, **cents** ("123.45" is
$1.2345), `currency` ("USD"), `cost_type` (`tokens`, `web_search`, `code_execution`, ...),
`description`, `model`, `token_type` (`uncached_input_tokens`, `output_tokens`,
`cache_read_input_tokens`, `cache_creation.ephemeral_5m_input_tokens`, ...), `service_tier`,
`context_window`, `workspace_id`. The model, token type and tier are only filled in when the
report is grouped by `description`. A token line is stored as "<tier> | <model>, <token type>"
(the line-item grammar reconciliation reads for every provider); any other line as its
description or cost type. Priority Tier costs never appear in the cost report.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from core.logs.formats import Format, Record
from core.logs.formats.usage_pages import (
    bucket_results,
    cost_row,
    decimal_amount,
    merged_costs,
    merged_usage,
    total,
    usage_row,
)
from core.logs.rules import RecordError

PROVIDER = "anthropic"
USAGE_SOURCE = "anthropic-usage"
_USAGE_FIELDS = frozenset({"uncached_input_tokens", "cache_read_input_tokens", "cache_creation"})


def rfc3339(value: object, field: str) -> datetime:
    """An RFC 3339 time with a zone, as UTC."""
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise RecordError(field, "must be an RFC 3339 time with a zone")
    return moment.astimezone(UTC)


def _span(bucket: Mapping[str, Any]) -> tuple[datetime, datetime]:
    return rfc3339(bucket.get("starting_at"), "starting_at"), rfc3339(
        bucket.get("ending_at"), "ending_at"
    )


def page_kind(page: Record) -> str | None:
    """`anthropic_usage` or `anthropic_costs` for a report page, else None."""
    data = page.get("data")
    if not isinstance(data, list) or "has_more" not in page:
        return None
    buckets = [b for b in data if isinstance(b, Mapping)]
    if not buckets:
        return "anthropic_usage" if not data and "next_page" in page else None
    if not all("starting_at" in b for b in buckets):
        return None
    for bucket in buckets:
        for result in bucket.get("results") or ():
            if isinstance(result, Mapping) and "amount" in result:
                return "anthropic_costs"
            if isinstance(result, Mapping) and result.keys() & _USAGE_FIELDS:
                return "anthropic_usage"
    return "anthropic_usage"  # no results: nothing to store either way


def _counts(result: Mapping[str, Any]) -> dict[str, int]:
    creation = result.get("cache_creation")
    creation = creation if isinstance(creation, Mapping) else {}
    uncached = total(result.get("uncached_input_tokens"), "uncached_input_tokens")
    read = total(result.get("cache_read_input_tokens"), "cache_read_input_tokens")
    five = total(
        creation.get("ephemeral_5m_input_tokens"), "cache_creation.ephemeral_5m_input_tokens"
    )
    hour = total(
        creation.get("ephemeral_1h_input_tokens"), "cache_creation.ephemeral_1h_input_tokens"
    )
    return {
        "input_tokens": total(uncached + read + five + hour, "uncached_input_tokens"),
        "cached_input_tokens": read,
        "cache_write_tokens": five + hour,
        "output_tokens": total(result.get("output_tokens"), "output_tokens"),
    }


def usage_rows(page: Record) -> list[dict[str, Any]]:
    """A usage report page -> one usage bucket row per stored key and bucket."""
    rows = []
    for start, end, result in bucket_results(page, _span):
        tier = result.get("service_tier")
        key = {
            "provider": PROVIDER,
            "source": USAGE_SOURCE,
            "start_time": start,
            "end_time": end,
            "project_id": result.get("workspace_id"),
            "api_key_id": result.get("api_key_id"),
            "model": result.get("model"),
            "batch": tier == "batch",
            "service_tier": tier,
        }
        rows.append(usage_row(key, _counts(result)))
    return merged_usage(rows)


def line_item(result: Mapping[str, Any]) -> str:
    """A cost line as stored: "<tier> | <model>, <token type>" for tokens, else its name."""
    model, token_type = result.get("model"), result.get("token_type")
    if model and token_type:
        tier = result.get("service_tier")
        window = result.get("context_window")
        item = f"{model}, {token_type}" + (f", {window}" if window else "")
        return f"{tier} | {item}" if tier else item
    return str(result.get("description") or result.get("cost_type") or "")


def cost_rows(page: Record) -> list[dict[str, Any]]:
    """A cost report page -> billed cost rows, cents turned into dollars exactly."""
    rows = []
    for start, end, result in bucket_results(page, _span):
        cents = decimal_amount(result.get("amount"), "amount")
        currency = str(result.get("currency") or "USD").lower()
        if currency != "usd":
            raise RecordError("currency", f"must be USD (got {currency.upper():.10})")
        key = {
            "provider": PROVIDER,
            "start_time": start,
            "end_time": end,
            "project_id": result.get("workspace_id"),
            "line_item": line_item(result),
        }
        model = result.get("model") if result.get("token_type") else ""
        rows.append(cost_row(key, model, cents.scaleb(-2)))
    return merged_costs(rows)


FORMATS = [
    Format(
        name="anthropic_usage",
        description="Anthropic Admin API usage report pages (usage buckets)",
        priority=12,
        detect=lambda record: page_kind(record) == "anthropic_usage",
        rows=usage_rows,
        kind="usage_buckets",
        family=USAGE_SOURCE,
    ),
    Format(
        name="anthropic_costs",
        description="Anthropic Admin API cost report pages (billed costs)",
        priority=13,
        detect=lambda record: page_kind(record) == "anthropic_costs",
        rows=cost_rows,
        kind="billed_costs",
        family="anthropic-costs",
    ),
]
