"""Spend by cost centre: sums per value of one or more dimensions over a range of days.

A *dimension* is a name (`model`, `provider`, `project`, `feature`, `user`, `key`, `team`,
`environment`, `tag`, `tag:KEY`) that this module alone resolves to where its values are
stored. `tag` splits by tag: a request counts once under each of its tags (so tag lines may
add up to more than the total) and untagged requests are the unallocated line; `tag:KEY`
splits by the value of the `KEY=value` tag (one per request), requests without one
unallocated. Both read the tag set column and split it after the sums (`core.attribution`). Each `Source` lists the dimensions it holds;
a question is answered by the first source that holds all of its dimensions: the daily rollup
when it can (its cost grows with days x groups, not with requests), raw `request_log` rows of
the period otherwise (`user` today). Adding a dimension is a local change here: name it in
`DIMENSIONS` and give its column in each source that holds it (a per-dimension rollup
becomes one more source, listed before the raw rows).

Values are returned as stored, "" for a record that named none (`core.attribution` shows it
as the unallocated line). Models are canonical ids (`core.identity`). Costs are exact integer
pico-dollars, summed in two parts so no SQL sum can overflow (`db.money`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
from sqlalchemy import ColumnElement, Engine, Table, case, func, select

from core.attribution import Chargeback, by_tag, chargeback
from core.currency import Conversion
from core.forecast import month_bounds
from db.models import RequestLog, UserRollup
from db.money import joined, split_sum
from db.queries.common import (
    FEATURE_MODELS,
    FEATURES,
    MODELS,
    ROLLUP,
    USAGE,
    UsageFilters,
    total,
    where,
)

LOG: Table = RequestLog.__table__  # type: ignore[assignment]
USERS: Table = UserRollup.__table__  # type: ignore[assignment]
SUMS = (
    "requests",
    "unpriced_requests",
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "cost_pusd",
)


@dataclass(frozen=True)
class Dimension:
    """A way to split spend into cost centres."""

    name: str
    label: str


DIMENSIONS: dict[str, Dimension] = {
    d.name: d
    for d in (
        Dimension("model", "Model"),
        Dimension("provider", "Provider"),
        Dimension("project", "Project"),
        Dimension("feature", "Feature"),
        Dimension("user", "User"),
        Dimension("key", "API key"),
        Dimension("team", "Team"),
        Dimension("environment", "Environment"),
        Dimension("tag", "Tag"),
    )
}
ALIASES = {"env": "environment", "key_label": "key", "tags": "tag"}
TAG_PREFIX = "tag:"


class UnknownDimension(ValueError):
    """A dimension name that names nothing, or one asked for twice."""


def dimension(name: str) -> Dimension:
    """The dimension called `name` (the one place names are resolved)."""
    text = str(name).strip()
    if text.lower().startswith(TAG_PREFIX) and text[len(TAG_PREFIX) :].strip():
        key = text[len(TAG_PREFIX) :].strip()
        if "," in key or "=" in key:
            raise UnknownDimension(f"tag key {key!r} cannot hold ',' or '='")
        return Dimension(f"{TAG_PREFIX}{key}", f"Tag {key}")
    lowered = text.lower()
    found = DIMENSIONS.get(ALIASES.get(lowered, lowered))
    if found is None:
        known = ", ".join([*DIMENSIONS, "tag:KEY"])
        raise UnknownDimension(f"unknown dimension {name!r}: choose one of {known}")
    return found


def tag_key(dim: str) -> str | None:
    """The KEY of a `tag:KEY` dimension (None for any other)."""
    return dim[len(TAG_PREFIX) :] if dim.startswith(TAG_PREFIX) else None


def stored_name(dim: str) -> str:
    """The dimension a source must hold for `dim` (`tag:KEY` is read from the tag sets)."""
    return "tag" if tag_key(dim) is not None else dim


def dimensions(names: Sequence[str]) -> tuple[str, ...]:
    """The canonical names of `names`, in order; UnknownDimension for a bad or repeated one."""
    out = tuple(dimension(n).name for n in names)
    if not out:
        raise UnknownDimension("name at least one dimension")
    repeated = sorted({n for n in out if out.count(n) > 1})
    if repeated:
        raise UnknownDimension(f"dimension {repeated[0]!r} is named twice")
    return out


@dataclass(frozen=True)
class Source:
    """A table that can answer "spend by these dimensions", and how."""

    name: str
    table: Table
    columns: Mapping[str, str]  # dimension name -> the column holding its values
    raw: bool  # one row per request (no request count column; bounded by `ts` as well)

    def holds(self, dims: Sequence[str], filters: UsageFilters | None = None) -> bool:
        """True when every one of `dims` has a column here, and every filter set."""
        if filters is not None and filters.unapplied(self.table):
            return False
        return all(stored_name(d) in self.columns for d in dims)

    def measures(self) -> list[ColumnElement]:
        """Request count, unpriced count, token sums and the split cost sum, in `SUMS` order."""
        c = self.table.c
        if self.raw:
            requests = func.count().label("requests")
            unpriced = total(case((c.priced.is_(False), 1), else_=0)).label("unpriced_requests")
        else:
            requests = total(c.requests).label("requests")
            unpriced = total(c.unpriced_requests).label("unpriced_requests")
        tokens = [total(c[n]).label(n) for n in SUMS[2:-1]]
        return [requests, unpriced, *tokens, *split_sum(c.cost_pusd, "cost_pusd")]

    def period(self, start: date, end: date) -> list[ColumnElement]:
        """The WHERE clauses of days `start`..`end` (inclusive)."""
        c = self.table.c
        clauses = [c.day >= start, c.day <= end]
        if self.raw:  # on ts too, so the ts index bounds the scan to the period
            after = datetime.combine(end + timedelta(days=1), time.min, UTC)
            clauses += [c.ts >= datetime.combine(start, time.min, UTC), c.ts < after]
        return clauses


_BOTH = {
    "model": "model_id",
    "provider": "provider",
    "project": "project",
    "feature": "feature",
    "key": "key_label",
    "team": "team",
    "environment": "environment",
    "tag": "tags",
}
SOURCES = (
    # per day, provider and model only: the smallest rollup
    Source("model_daily", MODELS, {"model": "model_id", "provider": "provider"}, raw=False),
    # per project and feature only
    Source("feature_daily", FEATURES, {"project": "project", "feature": "feature"}, raw=False),
    # without feature and tag set: a tenth of the daily rollup's rows on a realistic log
    Source(
        "usage_daily",
        USAGE,
        {d: c for d, c in _BOTH.items() if c not in ("feature", "tags")},
        raw=False,
    ),
    # per model, project and feature (more rows than the usage rollup)
    Source(
        "feature_model_daily",
        FEATURE_MODELS,
        {"model": "model_id", "project": "project", "feature": "feature"},
        raw=False,
    ),
    Source("daily_rollup", ROLLUP, _BOTH, raw=False),
    Source("request_log", LOG, {**_BOTH, "user": "user"}, raw=True),
)
# Each day's top users and the rest as `core.rollups.OTHER_USERS`: for a capped view only.
TOP_USERS_SOURCE = Source("user_rollup", USERS, {"user": "user"}, raw=False)


def source_for(
    dims: Sequence[str], filters: UsageFilters | None = None, *, capped: bool = False
) -> Source:
    """The first (cheapest) source holding every one of `dims` (and the filters' columns);
    with `capped`, users may come from the user rollup (top users per day, the rest summed)."""
    for source in (TOP_USERS_SOURCE, *SOURCES) if capped else SOURCES:
        if source.holds(dims, filters):
            return source
    raise UnknownDimension(f"no stored table holds {', '.join(dims)} together")


def spend_by(
    engine: Engine,
    names: Sequence[str],
    start: date,
    end: date,
    filters: UsageFilters | None = None,
    *,
    capped: bool = False,
) -> pd.DataFrame:
    """Per combination of the dimensions' values: requests, tokens and cost_pusd (exact ints),
    of the traffic `filters` selects (their dates aside: `start`..`end` are the period). With
    `capped`, a split by user alone may read the user rollup: each day's top users, the rest
    under `core.rollups.OTHER_USERS` (exact per user only for those in a day's top)."""
    dims = dimensions(names)
    source = source_for(dims, filters, capped=capped)
    keys = [source.table.c[source.columns[stored_name(d)]].label(d) for d in dims]
    query = select(*keys, *source.measures()).where(*source.period(start, end))
    if filters is not None:
        query = query.where(where(source.table, filters, start=start))
    with engine.connect() as conn:
        rows = conn.execute(query.group_by(*keys)).all()
    records = []
    for row in rows:
        values = tuple(row)
        labels = ["" if v is None else str(v) for v in values[: len(dims)]]
        counts = [int(v) for v in values[len(dims) : -2]]
        records.append([*labels, *counts, joined(values[-2], values[-1])])
    frame = pd.DataFrame(records, columns=[*dims, *SUMS]).astype({"cost_pusd": object})
    for dim in dims:
        if stored_name(dim) == "tag":
            frame = by_tag(frame, dims, dim, tag_key(dim))
    return frame.astype({"cost_pusd": object})


def data_span(engine: Engine) -> tuple[date | None, date | None]:
    """The first and last day with stored spend (None, None when nothing is stored)."""
    with engine.connect() as conn:
        first, last = conn.execute(select(func.min(ROLLUP.c.day), func.max(ROLLUP.c.day))).one()
    return _as_day(first), _as_day(last)


def _as_day(value: object) -> date | None:
    """A date from a DATE column (SQLite may hand back its ISO text)."""
    return date.fromisoformat(value) if isinstance(value, str) else value  # type: ignore[return-value]


def month_chargeback(engine: Engine, name: str, month: date, conversion: Conversion) -> Chargeback:
    """Spend per cost centre of `name` in `month`, with its share and change on the month before."""
    dim = dimension(name).name
    first, last = month_bounds(month)
    previous_first, previous_last = month_bounds(first - timedelta(days=1))
    current = spend_by(engine, [dim], first, last)
    previous = spend_by(engine, [dim], previous_first, previous_last)
    return chargeback(current, previous, dim, (first, previous_first), conversion)
