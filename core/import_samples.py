"""Sample usage and cost pages, with the request logs they reconcile against, to try the
Reconciliation page before an admin key is set up.

Three UTC days of one model, in each provider's documented page shape (OpenAI's Usage and Costs
API pages, Anthropic's usage and cost report pages), telling three stories: the first day
matches, on the second the provider counted two calls the logs miss, on the third a web search
line was billed beside the tokens. The billed amounts are the price book's own cost of the
counted tokens (`core.costs.price`), so only the stories differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from core.costs import Usage, price
from core.pricing import PriceBook, Unpriced

MODELS = {"openai": "gpt-4o-mini-2024-07-18", "anthropic": "claude-haiku-4-5-20251001"}
CALLS, INPUT_TOKENS, OUTPUT_TOKENS = 10, 1_000, 200  # logged each day, per call
COUNTED = (CALLS, CALLS + 2, CALLS)  # calls the provider counted on each sample day
WEB_SEARCH_USD = (Decimal(0), Decimal(0), Decimal("0.01"))  # billed beside the tokens


@dataclass(frozen=True)
class Sample:
    """Pages to store through their formats, and the request records logged beside them."""

    pages: list[tuple[str, dict[str, Any]]]  # (page format name, page)
    records: list[dict[str, Any]]


def sample_days(today: date) -> list[date]:
    """The three days a sample covers: the three before `today`."""
    return [today - timedelta(days=n) for n in (3, 2, 1)]


def _span(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _costs(book: PriceBook, model: str, day: date, calls: int) -> tuple[Decimal, Decimal]:
    """Input and output USD of `calls` sample calls at the book's price on `day`."""
    usage = Usage(input_tokens=INPUT_TOKENS * calls, output_tokens=OUTPUT_TOKENS * calls)
    found = price(usage, model, book, _span(day)[0])
    if isinstance(found, Unpriced):
        raise ValueError(f"the sample model {model} is not in the price book")
    return found.uncached_input_usd, found.output_usd


def logged_records(provider: str, days: list[date]) -> list[dict[str, Any]]:
    """The sample's request log: CALLS calls a day, in flat-log fields."""
    return [
        {
            "timestamp": f"{day.isoformat()}T09:{i:02d}:00Z",
            "request_id": f"sample-{provider}-{day.isoformat()}-{i}",
            "model": MODELS[provider],
            "input_tokens": INPUT_TOKENS,
            "output_tokens": OUTPUT_TOKENS,
            "project": "sample",
        }
        for day in days
        for i in range(CALLS)
    ]


def _openai_pages(book: PriceBook, days: list[date]) -> list[tuple[str, dict[str, Any]]]:
    model = MODELS["openai"]
    usage, costs = [], []
    for day, calls, search in zip(days, COUNTED, WEB_SEARCH_USD, strict=True):
        start, end = (int(t.timestamp()) for t in _span(day))
        inp, out = _costs(book, model, day, calls)
        usage.append({"object": "bucket", "start_time": start, "end_time": end, "results": [{
            "object": "organization.usage.completions.result", "model": model,
            "num_model_requests": calls, "input_tokens": INPUT_TOKENS * calls,
            "output_tokens": OUTPUT_TOKENS * calls, "input_cached_tokens": 0,
            "project_id": "proj_sample", "batch": False, "service_tier": "default"}]})  # fmt: skip
        lines = [(f"{model}, input", inp), (f"{model}, output", out)]
        lines += [("web search tool calls", search)] if search else []
        costs.append({"object": "bucket", "start_time": start, "end_time": end, "results": [
            {"object": "organization.costs.result", "line_item": item,
             "amount": {"value": str(usd), "currency": "usd"}, "project_id": "proj_sample"}
            for item, usd in lines]})  # fmt: skip
    page = {"object": "page", "has_more": False, "next_page": None}
    return [("usage_api", {**page, "data": usage}), ("costs_api", {**page, "data": costs})]


def _anthropic_pages(book: PriceBook, days: list[date]) -> list[tuple[str, dict[str, Any]]]:
    model = MODELS["anthropic"]
    usage, costs = [], []
    for day, calls, search in zip(days, COUNTED, WEB_SEARCH_USD, strict=True):
        start, end = (t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in _span(day))
        inp, out = _costs(book, model, day, calls)
        usage.append({"starting_at": start, "ending_at": end, "results": [{
            "uncached_input_tokens": INPUT_TOKENS * calls, "cache_read_input_tokens": 0,
            "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
            "output_tokens": OUTPUT_TOKENS * calls, "server_tool_use": {"web_search_requests": 0},
            "model": model, "service_tier": "standard", "workspace_id": "wrkspc_sample",
            "api_key_id": None, "context_window": "0-200k"}]})  # fmt: skip
        lines = [("uncached_input_tokens", inp), ("output_tokens", out)]
        results = [
            {"amount": str(usd * 100), "currency": "USD", "cost_type": "tokens",
             "description": f"{model} {kind}", "model": model, "token_type": kind,
             "service_tier": "standard", "workspace_id": "wrkspc_sample", "context_window": None}
            for kind, usd in lines
        ]  # fmt: skip
        results += [
            {"amount": str(search * 100), "currency": "USD", "cost_type": "web_search",
             "description": "Web search", "model": None, "token_type": None,
             "service_tier": None, "workspace_id": "wrkspc_sample", "context_window": None}
        ] if search else []  # fmt: skip
        costs.append({"starting_at": start, "ending_at": end, "results": results})
    page = {"has_more": False, "next_page": None}
    return [
        ("anthropic_usage", {**page, "data": usage}),
        ("anthropic_costs", {**page, "data": costs}),
    ]


def sample(provider: str, book: PriceBook, today: date) -> Sample:
    """The sample pages and logged calls of `provider` ("openai" or "anthropic")."""
    days = sample_days(today)
    build = _openai_pages if provider == "openai" else _anthropic_pages
    return Sample(build(book, days), logged_records(provider, days))
