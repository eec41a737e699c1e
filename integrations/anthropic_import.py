"""Import Anthropic's own record of usage and cost: the Admin API usage and cost reports.

Needs an admin key (`ANTHROPIC_ADMIN_KEY`, `sk-ant-admin...`, from the environment or
`.streamlit/secrets.toml`), sent as `x-api-key` with `anthropic-version: 2023-06-01`. Pulls
`/v1/organizations/usage_report/messages` grouped by model, workspace and service tier, and
`/v1/organizations/cost_report` grouped by workspace and description (which fills in each
line's model, token type and tier), in daily buckets, through the shared import path
(`integrations.usage_import`: `import_days(ANTHROPIC, engine, days, config=...)`).
`COSTDESK_ANTHROPIC_BASE_URL` points at another API host.
"""

from __future__ import annotations

from datetime import datetime

from integrations.usage_import import Params, Provider, Report

ADMIN_KEY_ENV = "ANTHROPIC_ADMIN_KEY"
BASE_URL_ENV = "COSTDESK_ANTHROPIC_BASE_URL"
DEFAULT_BASE_URL = "https://api.anthropic.com/v1"
API_VERSION = "2023-06-01"
PAGE_DAYS = 31  # both reports' maximum `limit` for daily buckets


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _window(start: datetime, end: datetime) -> Params:
    return [
        ("starting_at", _rfc3339(start)),
        ("ending_at", _rfc3339(end)),
        ("bucket_width", "1d"),
        ("limit", min(max(1, (end - start).days), PAGE_DAYS)),
    ]


def usage_params(start: datetime, end: datetime) -> Params:
    """Query of the usage report: daily buckets by model, workspace and service tier."""
    groups = ("model", "workspace_id", "service_tier")
    return _window(start, end) + [("group_by[]", g) for g in groups]


def cost_params(start: datetime, end: datetime) -> Params:
    """Query of the cost report: daily buckets by workspace and description."""
    return _window(start, end) + [("group_by[]", g) for g in ("workspace_id", "description")]


ANTHROPIC = Provider(
    name="Anthropic",
    key_setting=ADMIN_KEY_ENV,
    url_setting=BASE_URL_ENV,
    default_url=DEFAULT_BASE_URL,
    headers=lambda key: {"x-api-key": key, "anthropic-version": API_VERSION},
    usage=Report(
        "Usage report", "/organizations/usage_report/messages", "anthropic_usage", usage_params
    ),
    costs=Report("Cost report", "/organizations/cost_report", "anthropic_costs", cost_params),
    key_hint="create one at console.anthropic.com > Settings > Admin keys",
)
