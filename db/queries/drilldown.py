"""Drill-down: the raw requests behind a day (or a few days) of the Usage page.

Unlike the rest of `db.queries`, these read `request_log` rows, so every query is bounded: by
a UTC day range of at most `MAX_DAYS` days (through the `ts` index), by the filters, and by a
LIMIT. Raw rows may be pruned after N days while the rollups stay; `rollup_requests` counts
what the rollups hold for the same selection, so a page can say the rows are gone instead of
showing nothing. Prompt and completion text is never stored, so never read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
from sqlalchemy import ColumnElement, Engine, Float, Table, and_, cast, func, select

from db.models import RequestLog
from db.money import joined, split_sum
from db.queries.common import ROLLUP, UsageFilters, total, total_if, where

LOG: Table = RequestLog.__table__  # type: ignore[assignment]
MAX_DAYS = 31
PAGE_ROWS = 50
GROUPS = ("user", "project", "feature", "model_id")
REQUEST_COLUMNS = [
    "ts",
    "request_id",
    "model_id",
    "model",
    "project",
    "feature",
    "user",
    "status",
    "error_type",
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "latency_ms",
    "finish_reason",
    "priced",
    "cost_pusd",
]
ORDERS = {"cost": ("cost_pusd", True), "newest": ("ts", True), "oldest": ("ts", False)}


@dataclass(frozen=True)
class Drill:
    """A drill-down selection: UTC days `start`..`end` (at most MAX_DAYS) and optional filters.

    `model_id` is a canonical model id ("" for every model); `user` one user ("" for all).
    """

    start: date
    end: date
    model_id: str = ""
    projects: tuple[str, ...] = ()
    statuses: tuple[int, ...] = ()
    user: str = ""
    key_labels: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    environments: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("a drill-down ends on or after its first day")
        if (self.end - self.start).days >= MAX_DAYS:
            raise ValueError(f"a drill-down covers at most {MAX_DAYS} days")


@dataclass(frozen=True)
class DrillTotals:
    """Sums over the raw requests of a selection (cost exact, in pico-dollars)."""

    requests: int
    errors: int
    input_tokens: int
    output_tokens: int
    cost_pusd: int


def _instant(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def _filters(drill: Drill) -> UsageFilters:
    """The selection as the Usage page's filters (days, projects, model, statuses, and the
    key, team, environment and tag filters)."""
    models = (drill.model_id,) if drill.model_id else ()
    return UsageFilters(
        drill.start, drill.end, drill.projects, models, drill.statuses,
        key_labels=drill.key_labels, teams=drill.teams, environments=drill.environments,
        tags=drill.tags,
    )  # fmt: skip


def _where(drill: Drill) -> ColumnElement:
    """The selection as one WHERE clause on `request_log`: the Usage page's filter rule
    (`db.queries.common.where`, on the row's UTC `day`), the same days as a `ts` range (what
    the index serves), and the user."""
    c = LOG.c
    clauses = [
        c.ts >= _instant(drill.start),
        c.ts < _instant(drill.end + timedelta(days=1)),
        where(LOG, _filters(drill)),
    ]
    if drill.user:
        clauses.append(c["user"] == drill.user)
    return and_(*clauses)


def drill_totals(engine: Engine, drill: Drill) -> DrillTotals:
    """Requests, errors, tokens and exact cost of the selection's raw rows."""
    c = LOG.c
    high, low = split_sum(c.cost_pusd, "cost")
    query = select(
        func.count(),
        total_if(c.status >= 400, 1),
        total(c.input_tokens),
        total(c.output_tokens),
        high,
        low,
    ).where(_where(drill))
    with engine.connect() as conn:
        n, errors, inp, out, h, lo = conn.execute(query).one()
    return DrillTotals(int(n), int(errors), int(inp), int(out), joined(h, lo))


def top_groups(engine: Engine, drill: Drill, column: str, limit: int = 10) -> pd.DataFrame:
    """The `limit` most expensive values of `column` (user, project, feature, model_id) in the
    selection: key, requests, errors, tokens, cost_pusd (exact; ranked by a float sum, which
    cannot overflow), then by requests and name."""
    if column not in GROUPS:
        raise ValueError(f"cannot group requests by {column!r}")
    c = LOG.c
    key = c[column]
    high, low = split_sum(c.cost_pusd, "cost")
    query = (
        select(
            key,
            func.count().label("requests"),
            total_if(c.status >= 400, 1),
            total(c.input_tokens + c.output_tokens),
            high,
            low,
        )
        .where(_where(drill))
        .group_by(key)
        .order_by(func.sum(cast(c.cost_pusd, Float)).desc(), func.count().desc(), key)
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    columns = ["key", "requests", "errors", "tokens", "cost_pusd"]
    data = [(k, int(n), int(e), int(t), joined(h, lo)) for k, n, e, t, h, lo in rows]
    return pd.DataFrame(data, columns=columns)


def request_rows(
    engine: Engine, drill: Drill, *, offset: int = 0, limit: int = PAGE_ROWS, order: str = "cost"
) -> pd.DataFrame:
    """One page of the selection's requests (no content: none is stored), most expensive
    first by default (`order`: cost, newest or oldest), ties broken by id."""
    column, descending = ORDERS[order]
    sort = LOG.c[column].desc() if descending else LOG.c[column].asc()
    query = (
        select(*(LOG.c[name] for name in REQUEST_COLUMNS))
        .where(_where(drill))
        .order_by(sort, LOG.c.id.desc() if descending else LOG.c.id.asc())
        .offset(max(offset, 0))
        .limit(max(1, min(limit, 500)))
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=REQUEST_COLUMNS)


def rollup_requests(engine: Engine, drill: Drill) -> int:
    """Requests the daily rollups hold for the selection, under the Usage page's own filter
    rule (`db.queries.common.where`; users are not in the rollups, so a user filter is left
    out): more than the raw rows means some were pruned."""
    filters = _filters(drill)
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(total(ROLLUP.c.requests)).where(where(ROLLUP, filters))
            ).scalar_one()
        )
