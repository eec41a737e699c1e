"""OpenAI Usage API (completions) and Costs API pages, and the rows every provider's usage
and cost reports become.

These are not request records: a Usage page holds token totals per time bucket (stored as
usage buckets), a Costs page the amounts billed per bucket and line item (stored as billed
costs). Both are flattened here to one row per (bucket, result) with its natural-key fields.
Other reports (Anthropic's usage and cost reports, LiteLLM's daily spend tables) give rows of
the same shape through `usage_row` / `cost_row`, so one key and one merge serve them all.

Counts follow Costdesk's convention: `input_tokens` includes cached reads and cache writes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from core.logs.formats import Format, Record
from core.logs.rules import RecordError

MAX_TOTAL = 2**62  # a bucket's total; summed in SQL, so kept well under BIGINT's limit
USAGE_KEY = (
    "provider",
    "source",
    "start_time",
    "end_time",
    "project_id",
    "user_id",
    "api_key_id",
    "model",
    "batch",
    "service_tier",
)
USAGE_SUMS = (
    "requests",
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
)
COST_KEY = ("provider", "start_time", "end_time", "project_id", "api_key_id", "line_item")
OPENAI = {"provider": "openai", "source": "openai-usage"}


def label(value: object) -> object:
    """A key field as stored: text ("" when missing), times as they are."""
    if isinstance(value, datetime):
        return value
    return "" if value is None else str(value).strip()


def usage_row(key: Mapping[str, Any], counts: Mapping[str, int]) -> dict[str, Any]:
    """A usage bucket row: every key field (text ones "" when missing) and every count."""
    row = {name: label(key.get(name)) for name in USAGE_KEY}
    row["batch"] = bool(key.get("batch"))
    return row | {name: counts.get(name, 0) for name in USAGE_SUMS}


def cost_row(key: Mapping[str, Any], model: object, amount_usd: Decimal) -> dict[str, Any]:
    """A billed cost row: key fields, the model billed ("" for non-token items), USD text."""
    row = {name: label(key.get(name)) for name in COST_KEY}
    return row | {"model": label(model), "amount": str(amount_usd), "currency": "usd"}


def merged_usage(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows that share a stored key summed into one (a report grouped by a dimension Costdesk
    does not store, such as a context window, gives several)."""
    out: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        key = tuple(row[k] for k in USAGE_KEY)
        if key in out:
            for name in USAGE_SUMS:
                out[key][name] = total(out[key][name] + row[name], name)
        else:
            out[key] = dict(row)
    return list(out.values())


def merged_costs(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Cost rows that share a stored key summed into one (amounts added exactly)."""
    out: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        key = tuple(row[k] for k in COST_KEY)
        if key in out:
            out[key]["amount"] = str(Decimal(out[key]["amount"]) + Decimal(row["amount"]))
        else:
            out[key] = dict(row)
    return list(out.values())


def decimal_amount(value: object, field: str) -> Decimal:
    """A finite decimal amount given as a number or as decimal text."""
    if value is None or isinstance(value, bool):
        raise RecordError(field, "is required")
    try:
        amount = Decimal(value if isinstance(value, str) else str(value))
    except InvalidOperation:
        raise RecordError(field, f"must be a decimal number (got {value!r:.40})") from None
    if not amount.is_finite():
        raise RecordError(field, "must be a finite decimal number")
    return amount


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


def _epoch_span(bucket: Mapping[str, Any]) -> tuple[datetime, datetime]:
    return epoch(bucket.get("start_time"), "start_time"), epoch(bucket.get("end_time"), "end_time")


def bucket_results(
    page: Record, span: Callable[[Mapping[str, Any]], tuple[datetime, datetime]] = _epoch_span
) -> list[tuple[datetime, datetime, Mapping[str, Any]]]:
    """(bucket start, bucket end, result) for every result of a page's `data` buckets."""
    data = page.get("data")
    if not isinstance(data, list):
        raise RecordError("data", "a usage or cost page needs a `data` list of buckets")
    out = []
    for bucket in (b for b in data if isinstance(b, Mapping)):
        start, end = span(bucket)
        out += [(start, end, r) for r in bucket.get("results") or () if isinstance(r, Mapping)]
    return out


def usage_rows(page: Record) -> list[dict[str, Any]]:
    """A Usage API page -> one row per (bucket, result) with its natural-key fields."""
    rows = []
    for start, end, r in bucket_results(page):
        key = {
            **OPENAI,
            "start_time": start,
            "end_time": end,
            "project_id": r.get("project_id"),
            "user_id": r.get("user_id"),
            "api_key_id": r.get("api_key_id"),
            "model": r.get("model"),
            "batch": r.get("batch"),
            "service_tier": r.get("service_tier"),
        }
        counts = {
            "requests": total(r.get("num_model_requests"), "num_model_requests"),
            "input_tokens": total(r.get("input_tokens"), "input_tokens"),
            "cached_input_tokens": total(r.get("input_cached_tokens"), "input_cached_tokens"),
            "cache_write_tokens": total(
                r.get("input_cache_write_tokens"), "input_cache_write_tokens"
            ),
            "output_tokens": total(r.get("output_tokens"), "output_tokens"),
        }
        rows.append(usage_row(key, counts))
    return merged_usage(rows)


def cost_rows(page: Record) -> list[dict[str, Any]]:
    """A Costs API page -> one row per (bucket, result): amount in USD as decimal text."""
    rows = []
    for start, end, result in bucket_results(page):
        amount = result.get("amount") or {}
        value = decimal_amount(amount.get("value"), "amount.value")
        line_item = result.get("line_item") or ""
        key = {
            "provider": "openai",
            "start_time": start,
            "end_time": end,
            "project_id": result.get("project_id"),
            "api_key_id": result.get("api_key_id"),
            "line_item": line_item,
        }
        model = line_item.split(",", 1)[0].strip() if "," in line_item else ""
        currency = (amount.get("currency") or "usd").lower()
        rows.append(cost_row(key, model, value) | {"currency": currency})
    return merged_costs(rows)


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
