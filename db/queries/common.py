"""What every Usage query shares: the tables, the filters as one WHERE clause, exact sums.

Models are filtered and grouped by their canonical id (`model_id`, `core.identity`): the
rollup and the histograms are keyed by it, and the logged name appears on drill-down only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Engine,
    Select,
    Table,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    text,
    true,
)
from sqlalchemy import select as sa_select

from core.attribution import split_tags
from db.models import (
    DailyRollup,
    FeatureDaily,
    FeatureModelDaily,
    LatencyDaily,
    LatencyHistogram,
    LatencyQuantiles,
    ModelDaily,
    OutputDaily,
    OutputHistogram,
    RetryDaily,
    UsageDaily,
)

ROLLUP: Table = DailyRollup.__table__  # type: ignore[assignment]
USAGE: Table = UsageDaily.__table__  # type: ignore[assignment]
MODELS: Table = ModelDaily.__table__  # type: ignore[assignment]
FEATURES: Table = FeatureDaily.__table__  # type: ignore[assignment]
FEATURE_MODELS: Table = FeatureModelDaily.__table__  # type: ignore[assignment]
RETRY: Table = RetryDaily.__table__  # type: ignore[assignment]
OUTPUT_DAILY: Table = OutputDaily.__table__  # type: ignore[assignment]
LATENCY: Table = LatencyHistogram.__table__  # type: ignore[assignment]
OUTPUT: Table = OutputHistogram.__table__  # type: ignore[assignment]
LATENCY_DAILY: Table = LatencyDaily.__table__  # type: ignore[assignment]
QUANTILES: Table = LatencyQuantiles.__table__  # type: ignore[assignment]

RATE_LIMITED = 429


@dataclass(frozen=True)
class UsageFilters:
    """What the Usage page shows: an inclusive date range and optional value lists.

    `models` are canonical model ids (what `FilterValues.models` offers).
    """

    start: date | None = None
    end: date | None = None
    projects: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    statuses: tuple[int, ...] = ()
    key_labels: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    environments: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()  # rows holding any of these tags (`support`, `team=search`)
    users: tuple[str, ...] = ()  # only tables holding `user` (the stored rows) apply it

    def unapplied(self, table: Table) -> list[str]:
        """The filters set here that `table` cannot apply (it lacks their column)."""
        return [
            name
            for name, (column, _) in FILTER_COLUMNS.items()
            if getattr(self, name) and column not in table.c
        ]


# UsageFilters field -> (the stored column it filters, how a value matches it)
FILTER_COLUMNS = {
    "projects": ("project", "equal"),
    "models": ("model_id", "equal"),
    "statuses": ("status", "equal"),
    "key_labels": ("key_label", "equal"),
    "teams": ("team", "equal"),
    "environments": ("environment", "equal"),
    "tags": ("tags", "tag"),
    "users": ("user", "equal"),
}


def rollup_for(filters: UsageFilters, *smaller: Table) -> Table:
    """The first of the `smaller` rollups (smallest first) that applies every filter set, else
    the daily rollup, which applies them all."""
    return next((t for t in smaller if not filters.unapplied(t)), ROLLUP)


def usage_table(filters: UsageFilters) -> Table:
    """The rollup a query grouping by neither feature nor tags, nor project, key label, team or
    environment reads: the model rollup (the default view, ~70x fewer rows than the daily
    rollup), the usage rollup (~10x fewer), or the daily rollup when a tag filter needs it."""
    return rollup_for(filters, MODELS, USAGE)


def histogram_table(filters: UsageFilters, full: Table, daily: Table) -> Table:
    """The histogram a query reads: its (day, model_id) table, many times fewer rows, unless
    the full one applies a filter it cannot (a project or status)."""
    return full if set(filters.unapplied(daily)) - set(filters.unapplied(full)) else daily


def tag_match(column: ColumnElement, tag: str) -> ColumnElement:
    """Rows whose stored tag set (sorted, comma-joined) holds `tag` exactly."""
    return literal(",").concat(column).concat(",").contains(f",{tag},", autoescape=True)


@dataclass(frozen=True)
class FilterValues:
    """The choices the filters offer: what the rollups hold (models as canonical ids)."""

    first_day: date | None
    last_day: date | None
    projects: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    key_labels: list[str] = field(default_factory=list)
    teams: list[str] = field(default_factory=list)
    environments: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """True when no request has been stored yet."""
        return self.last_day is None


def total(column: ColumnElement) -> ColumnElement:
    """SUM as an exact integer on both backends (PostgreSQL's SUM(bigint) is NUMERIC)."""
    return cast(func.coalesce(func.sum(column), 0), BigInteger)


def total_if(condition: ColumnElement, column: ColumnElement | int) -> ColumnElement:
    """SUM of `column` over the rows matching `condition`."""
    return total(case((condition, column), else_=0))


def where(
    table: Table,
    filters: UsageFilters,
    *,
    start: date | None = None,
    day: ColumnElement | None = None,
) -> ColumnElement:
    """The filters as one WHERE clause on a rollup or histogram table (`day` may be wrapped)."""
    start = start if start is not None else filters.start
    day = day if day is not None else table.c.day
    clauses: list[ColumnElement] = []
    if start is not None:
        clauses.append(day >= start)
    if filters.end is not None:
        clauses.append(day <= filters.end)
    for name, (column, how) in FILTER_COLUMNS.items():
        chosen = getattr(filters, name)
        if not chosen or column not in table.c:
            continue
        if how == "tag":
            clauses.append(or_(*(tag_match(table.c[column], str(t)) for t in chosen)))
        elif name == "statuses":
            clauses.append(table.c[column].in_([int(s) for s in chosen]))
        else:
            clauses.append(table.c[column].in_(chosen))
    return and_(true(), *clauses)


def run_frame(engine: Engine, query: Select, columns: list[str]) -> pd.DataFrame:
    """Run `query` and return its rows as a frame with `columns`."""
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=columns)


# The distinct tag sets, one index probe each: a loose index scan of the tagged rows' partial
# index (`ix_daily_rollup_tags`), where DISTINCT would read every tagged row (40 ms at 10M
# requests against 0.2 ms). Each step repeats the index's condition so PostgreSQL uses it.
TAG_SETS = text(
    """WITH RECURSIVE found(tags) AS (
    SELECT min(tags) FROM daily_rollup WHERE tags <> ''
    UNION ALL
    SELECT (SELECT min(d.tags) FROM daily_rollup AS d WHERE d.tags <> '' AND d.tags > found.tags)
    FROM found WHERE found.tags IS NOT NULL
)
SELECT tags FROM found WHERE tags IS NOT NULL"""
)


def filter_values(engine: Engine) -> FilterValues:
    """Distinct projects, models (canonical ids), statuses, key labels, teams, environments
    and tags, and the first and last day: the usage rollup's groups, and the tag sets from
    the daily rollup's index of tagged rows."""
    u = USAGE.c
    keys = [u.project, u.model_id, u.status, u.key_label, u.team, u.environment]
    query = sa_select(*keys).distinct()
    # two probes of the clustered key (min and max together would scan every row)
    span = sa_select(
        sa_select(func.min(u.day)).scalar_subquery(), sa_select(func.max(u.day)).scalar_subquery()
    )
    df = run_frame(engine, query, [c.name for c in keys])
    if df.empty:
        return FilterValues(first_day=None, last_day=None)
    with engine.connect() as conn:
        first, last = conn.execute(span).one()
        tags = conn.execute(TAG_SETS).scalars().all()
    return FilterValues(
        first_day=_day(first),
        last_day=_day(last),
        projects=sorted(set(df["project"])),
        models=sorted(set(df["model_id"])),
        statuses=sorted(int(s) for s in set(df["status"])),
        key_labels=sorted(set(df["key_label"])),
        teams=sorted(set(df["team"])),
        environments=sorted(set(df["environment"])),
        tags=sorted({t for tag_set in tags for t in split_tags(tag_set)}),
    )


def _day(value: object) -> date:
    """A day as the driver returns an aggregate of one (SQLite: ISO text)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def as_days(values: pd.Series) -> pd.Series:
    """Dates from a column of dates or ISO date strings (parsed once per distinct value)."""
    codes, uniques = pd.factorize(values)
    days = [d if isinstance(d, date) else date.fromisoformat(str(d)[:10]) for d in uniques]
    return pd.Series(np.array(days, dtype=object)[codes], index=values.index, dtype=object)


def bucket_totals(histogram: pd.DataFrame | None) -> np.ndarray:
    """Counts per bucket index, summed over every row of a histogram frame."""
    if histogram is None or histogram.empty:
        return np.zeros(0, dtype=np.int64)
    return np.bincount(
        histogram["bucket"].to_numpy(np.int64), weights=histogram["count"].to_numpy(np.float64)
    )
