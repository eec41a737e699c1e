"""Import OpenAI's own record of usage and cost: the organization Usage and Costs APIs.

Needs an admin key (`OPENAI_ADMIN_KEY`, from the environment or `.streamlit/secrets.toml`
through the `config` function passed in). Pulls `/organization/usage/completions` grouped by
model and project (and tier, batch) in daily buckets, and `/organization/costs` grouped by line
item and project, through the shared import path (`integrations.usage_import`: pagination,
retries, idempotent storing). `COSTDESK_OPENAI_BASE_URL` points at another API host.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from integrations import usage_import
from integrations.usage_import import (
    Config,
    ImportFailed,
    ImportReport,
    NoAdminKey,
    Params,
    Provider,
    Report,
    day_range,
    env_or_secrets,
)

__all__ = [
    "OPENAI",
    "ImportFailed",
    "ImportReport",
    "NoAdminKey",
    "admin_key",
    "day_range",
    "env_or_secrets",
    "import_days",
    "import_range",
]

ADMIN_KEY_ENV = "OPENAI_ADMIN_KEY"
BASE_URL_ENV = "COSTDESK_OPENAI_BASE_URL"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
USAGE_PAGE_DAYS = 31  # the Usage API's maximum `limit` for daily buckets
COSTS_PAGE_DAYS = 180  # the Costs API's maximum `limit`


def _window(start: datetime, end: datetime, most_days: int) -> Params:
    days = max(1, (end - start).days)
    return [
        ("start_time", int(start.timestamp())),
        ("end_time", int(end.timestamp())),
        ("bucket_width", "1d"),
        ("limit", min(days, most_days)),
    ]


def usage_params(start: datetime, end: datetime) -> Params:
    """Query of the Usage API: daily buckets by model and project (and tier, batch)."""
    groups = ("model", "project_id", "service_tier", "batch")  # tiers and batch explain bills
    return _window(start, end, USAGE_PAGE_DAYS) + [("group_by[]", g) for g in groups]


def costs_params(start: datetime, end: datetime) -> Params:
    """Query of the Costs API: daily buckets grouped by line item and project."""
    groups = ("line_item", "project_id")
    return _window(start, end, COSTS_PAGE_DAYS) + [("group_by[]", g) for g in groups]


OPENAI = Provider(
    name="OpenAI",
    key_setting=ADMIN_KEY_ENV,
    url_setting=BASE_URL_ENV,
    default_url=DEFAULT_BASE_URL,
    headers=lambda key: {"Authorization": f"Bearer {key}"},
    usage=Report("Usage API", "/organization/usage/completions", "usage_api", usage_params),
    costs=Report("Costs API", "/organization/costs", "costs_api", costs_params),
    key_hint="create one at platform.openai.com > Settings > Admin keys",
)


def admin_key(config: Config | None = None) -> str | None:
    """The admin key: `OPENAI_ADMIN_KEY` from `config` (env, then secrets) or the environment."""
    return usage_import.admin_key(OPENAI, config)


def import_range(engine: Any, start: datetime, end: datetime, **options: Any) -> ImportReport:
    """Fetch usage and costs for [start, end) and store every page idempotently."""
    return usage_import.import_range(OPENAI, engine, start, end, **options)


def import_days(engine: Any, days: int, **options: Any) -> ImportReport:
    """Import the last `days` days with the configured admin key; `NoAdminKey` when none is set."""
    return usage_import.import_days(OPENAI, engine, days, **options)
