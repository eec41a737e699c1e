"""Import a provider's own record of usage and cost from its admin API.

One path for every provider (`Provider`: its key and base-URL settings, auth headers, and two
`Report` endpoints, usage and costs): an HTTP client (httpx2), each report's pages fetched in
turn following `next_page` while `has_more` (429, 529 and 5xx retried, `retry-after`
honoured), and every page stored through its page format (`core.logs.formats`, the same rows a
saved page file gives) by `db.imports`, idempotently: importing the same range again changes
nothing. Every expected failure (no key, a rejected key, an unreachable host, an answer that is
not a page) is an `ImportFailed` whose message is one line saying what to do.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2

from core.access import Actor, require
from core.logs.rules import RecordError
from integrations.settings import setting

MAX_PAGES = 1000  # a cursor that never ends is a server bug, not a reason to loop forever
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 529})  # 529: Anthropic is overloaded

Progress = Callable[[float, str], None]
Config = Callable[[str], str | None]
Params = list[tuple[str, str | int]]


class ImportFailed(Exception):
    """The import could not run; the message is one line saying what to do."""


class NoAdminKey(ImportFailed):
    """No admin key is configured."""


@dataclass(frozen=True)
class Report:
    """One paginated report endpoint: its path, query and the page format of its pages."""

    label: str  # "Usage API", shown in progress
    path: str
    fmt: str  # a page format of core.logs.formats (kind usage_buckets or billed_costs)
    params: Callable[[datetime, datetime], Params]


@dataclass(frozen=True)
class Provider:
    """A provider's admin API: settings, authentication and its usage and cost reports."""

    name: str  # "OpenAI"
    key_setting: str  # "OPENAI_ADMIN_KEY"
    url_setting: str  # "COSTDESK_OPENAI_BASE_URL"
    default_url: str
    headers: Callable[[str], dict[str, str]]
    usage: Report
    costs: Report
    key_hint: str  # where an admin key is created


@dataclass
class ImportReport:
    """What one import fetched and stored."""

    start: datetime
    end: datetime
    provider: str = "openai"
    usage_pages: int = 0
    usage_rows: int = 0
    usage_changed: int = 0
    cost_pages: int = 0
    cost_rows: int = 0
    cost_changed: int = 0

    def add_page(self, kind: str, rows: int, changed: int) -> int:
        """Count one stored page of the `kind` ("usage" or "cost") report; its number."""
        pages = getattr(self, f"{kind}_pages") + 1
        setattr(self, f"{kind}_pages", pages)
        setattr(self, f"{kind}_rows", getattr(self, f"{kind}_rows") + rows)
        setattr(self, f"{kind}_changed", getattr(self, f"{kind}_changed") + changed)
        return pages

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (`*_changed`: rows new or different from what was stored)."""
        return {
            "provider": self.provider,
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


def admin_key(provider: Provider, config: Config | None = None) -> str | None:
    """The provider's admin key from `config` (env, then secrets), else the environment."""
    value = config(provider.key_setting) if config is not None else None
    value = value or os.environ.get(provider.key_setting)
    return value.strip() if value and value.strip() else None


def base_url(provider: Provider, config: Config | None = None) -> str:
    """The API base URL: the provider's base-URL setting, else its public API."""
    value = config(provider.url_setting) if config is not None else None
    value = value or os.environ.get(provider.url_setting)
    return (value or provider.default_url).rstrip("/")


def missing_key(provider: Provider) -> str:
    """What to set when no admin key is configured (one line)."""
    return (
        f"no {provider.name} admin key: set {provider.key_setting} in the environment or in "
        f".streamlit/secrets.toml ({provider.key_hint})"
    )


def day_range(days: int, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The last `days` UTC days including today: [midnight days-1 ago, next midnight)."""
    if days < 1:
        raise ImportFailed("--days must be at least 1")
    now = (now or datetime.now(UTC)).astimezone(UTC)
    end = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    return end - timedelta(days=days), end


def make_client(
    provider: Provider, api_key: str, url: str, transport: httpx2.BaseTransport | None = None
) -> httpx2.Client:
    """An HTTP client for the admin endpoints (the transport is injectable for tests)."""
    return httpx2.Client(
        base_url=url,
        headers={**provider.headers(api_key), "Accept": "application/json"},
        timeout=httpx2.Timeout(60.0, connect=10.0),
        transport=transport,
    )


def explain(provider: Provider, status: int, body: str) -> str:
    """One line for an error answer (never the raw body: it could echo the request)."""
    if status == 401:
        return (
            f"{provider.name} rejected the admin key (401): set {provider.key_setting} to an "
            "organization admin key"
        )
    if status == 403:
        return "the key may not read usage (403): it must be an admin key of the organization"
    if status == 404:
        return f"the usage/cost API was not found (404): check {provider.url_setting}"
    return f"{provider.name} answered {status}: {_message(body)}"


def _message(body: str) -> str:
    """The `error.message` of an error body (OpenAI's and Anthropic's share that path)."""
    try:
        message = json.loads(body)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return "no error message"
    return str(message).splitlines()[0][:200] if message else "no error message"


def _retry_delay_s(response: httpx2.Response, attempt: int) -> float:
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = response.headers.get(name)
        try:
            if value is not None:
                return min(60.0, float(value) / divisor)
        except ValueError:
            continue
    return min(30.0, 2.0**attempt)


def get_json(
    client: httpx2.Client,
    provider: Provider,
    path: str,
    params: Params,
    *,
    retries: int = 3,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """GET one page as JSON; 429 / 529 / 5xx retried (retry-after honoured), others explained."""
    for attempt in range(retries + 1):
        try:
            response = client.get(path, params=params)
        except httpx2.HTTPError as exc:
            raise ImportFailed(f"could not reach {client.base_url}: {type(exc).__name__}") from exc
        if response.status_code in RETRY_STATUSES and attempt < retries:
            sleep(_retry_delay_s(response, attempt))
            continue
        if response.status_code >= 400:
            raise ImportFailed(explain(provider, response.status_code, response.text))
        try:
            payload = response.json()
        except ValueError as exc:
            raise ImportFailed(f"{path} did not answer JSON") from exc
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
            raise ImportFailed(f"{path} answered something that is not a page of buckets")
        return payload
    raise ImportFailed(f"{path}: still failing after {retries} retries")


def iter_pages(
    client: httpx2.Client, provider: Provider, path: str, params: Params, **kwargs: Any
) -> Iterator[dict[str, Any]]:
    """Every page of a paginated admin endpoint, following `next_page` while `has_more`."""
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        extra = [("page", cursor)] if cursor else []
        page = get_json(client, provider, path, params + extra, **kwargs)
        yield page
        cursor = page.get("next_page")
        if not page.get("has_more") or not cursor or cursor in seen:
            return
        seen.add(cursor)
    raise ImportFailed(f"{path}: more than {MAX_PAGES} pages; import a shorter range")


def _rows_in(page: Mapping[str, Any]) -> int:
    return sum(len(b.get("results") or ()) for b in page["data"] if isinstance(b, dict))


def _bucket_end(bucket: Mapping[str, Any]) -> float | None:
    """A bucket's end as Unix seconds: OpenAI's `end_time`, Anthropic's `ending_at`."""
    end = bucket.get("end_time", bucket.get("ending_at"))
    if isinstance(end, (int, float)) and not isinstance(end, bool):
        return float(end)
    try:
        return datetime.fromisoformat(end).timestamp() if isinstance(end, str) else None
    except ValueError:
        return None


def _done_share(page: Mapping[str, Any], start: datetime, end: datetime) -> float:
    ends = [_bucket_end(b) for b in page["data"] if isinstance(b, dict)]
    ends = [e for e in ends if e is not None]
    if not ends:
        return 1.0
    span = (end - start).total_seconds() or 1.0
    return min(1.0, max(0.0, (max(ends) - start.timestamp()) / span))


def _store(engine: Any, report: Report, page: Mapping[str, Any], actor: Actor) -> int:
    """Store one page through its format; a page it cannot read is a failed import."""
    from db.imports import store_page

    try:
        changed, _same = store_page(engine, report.fmt, page, actor=actor)
    except RecordError as exc:
        raise ImportFailed(f"{report.path} answered a page Costdesk cannot read: {exc}") from exc
    return changed


def _import_report(
    client: httpx2.Client, engine: Any, provider: Provider, which: str, found: ImportReport,
    tell: Progress, sleep: Callable[[float], None], actor: Actor,
) -> None:  # fmt: skip
    """Fetch and store every page of the usage or the cost report (`which`)."""
    report = provider.usage if which == "usage" else provider.costs
    offset = 0.0 if which == "usage" else 0.5
    params = report.params(found.start, found.end)
    for page in iter_pages(client, provider, report.path, params, sleep=sleep):
        pages = found.add_page(which, _rows_in(page), _store(engine, report, page, actor))
        share = offset + 0.5 * _done_share(page, found.start, found.end)
        tell(share, f"{report.label}: page {pages}")


def import_range(
    provider: Provider,
    engine: Any,
    start: datetime,
    end: datetime,
    *,
    api_key: str,
    url: str | None = None,
    transport: httpx2.BaseTransport | None = None,
    progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
    actor: Actor,
) -> ImportReport:
    """Fetch the provider's usage and costs for [start, end) and store every page."""
    from db.audit import record_now

    require(actor, "import")
    found = ImportReport(start=start, end=end, provider=provider.name.lower())
    tell = progress or (lambda _share, _message: None)
    with make_client(provider, api_key, url or provider.default_url, transport) as client:
        for which in ("usage", "cost"):
            _import_report(client, engine, provider, which, found, tell, sleep, actor)
    tell(1.0, "Import finished")
    span = f"{found.provider} {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}"
    record_now(engine, actor, "import", span, after=vars(found))
    return found


def import_days(
    provider: Provider,
    engine: Any,
    days: int,
    *,
    config: Config | None = None,
    transport: httpx2.BaseTransport | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
    actor: Actor,
) -> ImportReport:
    """Import the last `days` days with the configured admin key; `NoAdminKey` when none is set."""
    key = admin_key(provider, config)
    if key is None:
        raise NoAdminKey(missing_key(provider))
    start, end = day_range(days, now)
    return import_range(
        provider,
        engine,
        start,
        end,
        api_key=key,
        url=base_url(provider, config),
        transport=transport,
        progress=progress,
        actor=actor,
    )
