"""Import OpenAI's own record of usage and cost: the organization Usage and Costs APIs.

Needs an admin key (`OPENAI_ADMIN_KEY`, from the environment or `.streamlit/secrets.toml`
through the `config` function passed in). Pulls `/organization/usage/completions` grouped by
model and project in daily buckets, and `/organization/costs` grouped by line item and project,
following `next_page` cursors, and stores every page through `db.imports` (idempotent: importing
the same range again changes nothing). `COSTDESK_OPENAI_BASE_URL` points at another API host.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2

from integrations.settings import setting

ADMIN_KEY_ENV = "OPENAI_ADMIN_KEY"
BASE_URL_ENV = "COSTDESK_OPENAI_BASE_URL"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
USAGE_PATH = "/organization/usage/completions"
COSTS_PATH = "/organization/costs"
USAGE_PAGE_DAYS = 31  # the Usage API's maximum `limit` for daily buckets
COSTS_PAGE_DAYS = 180  # the Costs API's maximum `limit`
MAX_PAGES = 1000  # a cursor that never ends is a server bug, not a reason to loop forever
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

Progress = Callable[[float, str], None]
Config = Callable[[str], str | None]


class ImportFailed(Exception):
    """The import could not run; the message is one line saying what to do."""


class NoAdminKey(ImportFailed):
    """No admin key is configured."""


@dataclass
class ImportReport:
    """What one import fetched and stored."""

    start: datetime
    end: datetime
    usage_pages: int = 0
    usage_rows: int = 0
    usage_changed: int = 0
    cost_pages: int = 0
    cost_rows: int = 0
    cost_changed: int = 0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (`*_changed`: rows new or different from what was stored)."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "usage_pages": self.usage_pages,
            "usage_rows": self.usage_rows,
            "usage_changed": self.usage_changed,
            "cost_pages": self.cost_pages,
            "cost_rows": self.cost_rows,
            "cost_changed": self.cost_changed,
        }


def env_or_secrets(secrets_path: str | Path | None = None) -> Config:
    """A config function: environment variable, then the secrets file (`integrations.settings`)."""
    path = Path(secrets_path) if secrets_path is not None else None
    return lambda name: setting(name, path=path)


def admin_key(config: Config | None = None) -> str | None:
    """The admin key: `OPENAI_ADMIN_KEY` from `config` (env, then secrets) or the environment."""
    import os

    value = config(ADMIN_KEY_ENV) if config is not None else None
    value = value or os.environ.get(ADMIN_KEY_ENV)
    return value.strip() if value and value.strip() else None


def base_url(config: Config | None = None) -> str:
    """The API base URL: `COSTDESK_OPENAI_BASE_URL` or OpenAI's."""
    import os

    value = (config(BASE_URL_ENV) if config is not None else None) or os.environ.get(BASE_URL_ENV)
    return (value or DEFAULT_BASE_URL).rstrip("/")


def day_range(days: int, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The last `days` UTC days including today: [midnight days-1 ago, next midnight)."""
    if days < 1:
        raise ImportFailed("--days must be at least 1")
    now = (now or datetime.now(UTC)).astimezone(UTC)
    end = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    return end - timedelta(days=days), end


def make_client(
    api_key: str, url: str, transport: httpx2.BaseTransport | None = None
) -> httpx2.Client:
    """An HTTP client for the admin endpoints (the transport is injectable for tests)."""
    return httpx2.Client(
        base_url=url,
        headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
        timeout=httpx2.Timeout(60.0, connect=10.0),
        transport=transport,
    )


def _explain(status: int, body: str) -> str:
    if status == 401:
        return (
            f"OpenAI rejected the admin key (401): set {ADMIN_KEY_ENV} to an organization admin key"
        )
    if status == 403:
        return "the key may not read usage (403): it must be an admin key of the organization owner"
    if status == 404:
        return "the Usage/Costs API was not found (404): check COSTDESK_OPENAI_BASE_URL"
    return f"OpenAI answered {status}: {_message(body)}"


def _message(body: str) -> str:
    """The `error.message` of an error body (never the raw body: it could echo the request)."""
    try:
        message = json.loads(body)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return "no error message"
    return str(message).splitlines()[0][:200] if message else "no error message"


def get_json(
    client: httpx2.Client,
    path: str,
    params: list[tuple[str, str | int]],
    *,
    retries: int = 3,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """GET one page as JSON; 429 / 5xx retried (retry-after honoured), others explained."""
    for attempt in range(retries + 1):
        try:
            response = client.get(path, params=params)
        except httpx2.HTTPError as exc:
            raise ImportFailed(f"could not reach {client.base_url}: {type(exc).__name__}") from exc
        if response.status_code in RETRY_STATUSES and attempt < retries:
            sleep(_retry_delay_s(response, attempt))
            continue
        if response.status_code >= 400:
            raise ImportFailed(_explain(response.status_code, response.text))
        try:
            payload = response.json()
        except ValueError as exc:
            raise ImportFailed(f"{path} did not answer JSON") from exc
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
            raise ImportFailed(f"{path} answered something that is not a page of buckets")
        return payload
    raise ImportFailed(f"{path}: still failing after {retries} retries")


def _retry_delay_s(response: httpx2.Response, attempt: int) -> float:
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = response.headers.get(name)
        try:
            if value is not None:
                return min(60.0, float(value) / divisor)
        except ValueError:
            continue
    return min(30.0, 2.0**attempt)


def iter_pages(
    client: httpx2.Client, path: str, params: list[tuple[str, str | int]], **kwargs: Any
) -> Iterator[dict[str, Any]]:
    """Every page of a paginated admin endpoint, following `next_page` while `has_more`."""
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        page = get_json(client, path, params + ([("page", cursor)] if cursor else []), **kwargs)
        yield page
        cursor = page.get("next_page")
        if not page.get("has_more") or not cursor or cursor in seen:
            return
        seen.add(cursor)
    raise ImportFailed(f"{path}: more than {MAX_PAGES} pages; import a shorter range")


def usage_params(start: datetime, end: datetime) -> list[tuple[str, str | int]]:
    """Query of the Usage API: daily buckets by model and project (and tier, batch)."""
    days = max(1, (end - start).days)
    return [
        ("start_time", int(start.timestamp())),
        ("end_time", int(end.timestamp())),
        ("bucket_width", "1d"),
        ("group_by[]", "model"),
        ("group_by[]", "project_id"),
        ("group_by[]", "service_tier"),  # tiers and batch rates explain billed differences
        ("group_by[]", "batch"),
        ("limit", min(days, USAGE_PAGE_DAYS)),
    ]


def costs_params(start: datetime, end: datetime) -> list[tuple[str, str | int]]:
    """Query of the Costs API: daily buckets grouped by line item and project."""
    days = max(1, (end - start).days)
    return [
        ("start_time", int(start.timestamp())),
        ("end_time", int(end.timestamp())),
        ("bucket_width", "1d"),
        ("group_by[]", "line_item"),
        ("group_by[]", "project_id"),
        ("limit", min(days, COSTS_PAGE_DAYS)),
    ]


def _rows_in(page: dict[str, Any]) -> int:
    return sum(len(b.get("results") or ()) for b in page["data"] if isinstance(b, dict))


def _done_share(page: dict[str, Any], start: datetime, end: datetime) -> float:
    ends = [b.get("end_time") for b in page["data"] if isinstance(b, dict)]
    ends = [e for e in ends if isinstance(e, (int, float))]
    if not ends:
        return 1.0
    span = (end - start).total_seconds() or 1.0
    return min(1.0, max(0.0, (max(ends) - start.timestamp()) / span))


def import_range(
    engine: Any,
    start: datetime,
    end: datetime,
    *,
    api_key: str,
    url: str = DEFAULT_BASE_URL,
    transport: httpx2.BaseTransport | None = None,
    progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ImportReport:
    """Fetch usage and costs for [start, end) and store every page idempotently."""
    from db.imports import store_costs_page, store_usage_page

    report = ImportReport(start=start, end=end)
    tell = progress or (lambda _share, _message: None)
    with make_client(api_key, url, transport) as client:
        for page in iter_pages(client, USAGE_PATH, usage_params(start, end), sleep=sleep):
            changed, _same = store_usage_page(engine, page)
            report.usage_pages += 1
            report.usage_rows += _rows_in(page)
            report.usage_changed += changed
            tell(0.5 * _done_share(page, start, end), f"Usage API: page {report.usage_pages}")
        for page in iter_pages(client, COSTS_PATH, costs_params(start, end), sleep=sleep):
            changed, _same = store_costs_page(engine, page)
            report.cost_pages += 1
            report.cost_rows += _rows_in(page)
            report.cost_changed += changed
            tell(0.5 + 0.5 * _done_share(page, start, end), f"Costs API: page {report.cost_pages}")
    tell(1.0, "Import finished")
    return report


def import_days(
    engine: Any,
    days: int,
    *,
    config: Config | None = None,
    transport: httpx2.BaseTransport | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> ImportReport:
    """Import the last `days` days with the configured admin key; `NoAdminKey` when none is set."""
    key = admin_key(config)
    if key is None:
        raise NoAdminKey(
            f"no OpenAI admin key: set {ADMIN_KEY_ENV} in the environment or in "
            ".streamlit/secrets.toml (create one at platform.openai.com > Settings > Admin keys)"
        )
    start, end = day_range(days, now)
    return import_range(
        engine,
        start,
        end,
        api_key=key,
        url=base_url(config),
        transport=transport,
        progress=progress,
    )
