"""A local HTTP server on 127.0.0.1 speaking Anthropic's Admin API usage and cost reports.

Shapes from Anthropic's API reference (`GET /v1/organizations/usage_report/messages`,
`GET /v1/organizations/cost_report`): pages `{data, has_more, next_page}`, buckets
`{starting_at, ending_at, results}` in RFC 3339, cost `amount` a decimal string in cents,
errors `{"type": "error", "error": {"type", "message"}}`. A request without the admin key in
`x-api-key` or without `anthropic-version` is refused as the real API refuses it. The server
machinery (scripted replies, the request log) is the OpenAI fake's.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from tests.integrations.fake_openai import FakeOpenAI, Reply, Seen

USAGE_PATH = "/v1/organizations/usage_report/messages"
COST_PATH = "/v1/organizations/cost_report"


def error_body(kind: str, message: str) -> dict:
    """Anthropic's error envelope."""
    return {"type": "error", "error": {"type": kind, "message": message}}


def bucket(day: date, results: list[dict]) -> dict:
    """A daily bucket of either report."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    edge = "%Y-%m-%dT%H:%M:%SZ"
    end = start + timedelta(days=1)
    return {
        "starting_at": start.strftime(edge),
        "ending_at": end.strftime(edge),
        "results": results,
    }


def usage_result(
    model: str | None,
    uncached: int,
    output: int,
    *,
    read: int = 0,
    write_5m: int = 0,
    write_1h: int = 0,
    tier: str | None = "standard",
    workspace: str | None = None,
    window: str | None = None,
) -> dict:
    """One usage report result, grouped by model, workspace and service tier."""
    return {
        "uncached_input_tokens": uncached,
        "cache_creation": {"ephemeral_5m_input_tokens": write_5m, "ephemeral_1h_input_tokens": write_1h},
        "cache_read_input_tokens": read,
        "output_tokens": output,
        "server_tool_use": {"web_search_requests": 0},
        "api_key_id": None,
        "workspace_id": workspace,
        "model": model,
        "service_tier": tier,
        "context_window": window,
    }  # fmt: skip


def cost_result(
    cents: str,
    *,
    model: str | None = None,
    token_type: str | None = None,
    tier: str | None = "standard",
    cost_type: str = "tokens",
    description: str | None = None,
    workspace: str | None = None,
) -> dict:
    """One cost report result grouped by workspace and description (`amount` in cents)."""
    return {
        "currency": "USD",
        "amount": cents,
        "workspace_id": workspace,
        "description": description or f"{model} {token_type}",
        "cost_type": cost_type,
        "context_window": "0-200k" if model else None,
        "model": model,
        "service_tier": tier if model else None,
        "token_type": token_type,
        "inference_geo": None,
    }


class FakeAnthropic(FakeOpenAI):
    """The server: `start()` returns the base URL ending in /v1; set `pages[path]` to a list of
    pages (each a list of buckets) to serve them one at a time through the `page` cursor."""

    def __init__(self, admin_key: str = "sk-ant-admin01-TEST") -> None:
        super().__init__()
        self.admin_key = admin_key

    def default_reply(self, seen: Seen) -> Reply:
        """Refuse a request without the admin key or version header; serve the pages."""
        headers = {k.lower(): v for k, v in seen.headers.items()}
        if headers.get("x-api-key") != self.admin_key:
            return Reply(401, error_body("authentication_error", "invalid x-api-key"))
        if headers.get("anthropic-version") != "2023-06-01":
            return Reply(400, error_body("invalid_request_error", "anthropic-version required"))
        if seen.path not in self.pages:
            return Reply(404, error_body("not_found_error", "Not found"))
        return self.page_reply(seen.path, seen)

    def page_reply(self, path: str, seen: Seen) -> Reply:
        """One page: `data`, `has_more` and an opaque `next_page` cursor."""
        pages = self.pages[path]
        cursor = seen.query.get("page", [None])[0]
        index = int(cursor.removeprefix("page_")) if cursor else 0
        more = index + 1 < len(pages)
        next_page = f"page_{index + 1}" if more else None
        return Reply(body={"data": pages[index], "has_more": more, "next_page": next_page})
