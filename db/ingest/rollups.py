"""Rollups in the database: add a chunk's sums as it is stored, rebuild them from stored rows.

`add_sums` upserts what `core.rollups` computed for newly inserted events, in the same
transaction as the rows (sums added, the routing rollup's extremes kept). `rebuild` recomputes
the rollups of some days (or all) from `request_log` in SQL, after a delete or a re-price; its
SQL spells out the same definitions as `core.rollups` (`row_values`, `token_bucket`, the
extremes), and a property test holds the two equal on every column. Days whose rows were
pruned (`db.retention`) are never rebuilt: their rollups are all that is left of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    BigInteger,
    Connection,
    Date,
    Integer,
    and_,
    bindparam,
    case,
    cast,
    delete,
    extract,
    func,
    literal,
    literal_column,
    null,
    select,
    true,
)
from sqlalchemy.sql.elements import ColumnElement

from core.rollups import (
    COARSER,
    COST_COLUMNS,
    DAILY_KEY,
    EXTREME_OF,
    HISTOGRAM_KEY,
    HOURLY_KEY,
    INPUT_GRID,
    OTHER_USERS,
    OUTPUT_GRID,
    ROLLUP_KEY,
    ROLLUP_SUMS,
    ROUTING_COARSER,
    ROUTING_COLUMNS,
    ROUTING_EXTREMES,
    ROUTING_KEY,
    ROUTING_SUMS,
    ROUTING_WEEKLY,
    SUM_LIMIT,
    TOKEN_SUMS,
    TOP_USERS,
    USER_SUMS,
    RollupSums,
    week_of,
)
from db.ingest.bulk import dialect_module, execute_flat
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
    RequestLog,
    RetryDaily,
    RoutingModelDaily,
    RoutingModelWeekly,
    RoutingProjectDaily,
    RoutingProjectWeekly,
    RoutingRollup,
    TrafficHourly,
    UsageDaily,
    UserRollup,
)
from db.queries.reliability import (
    RETRY_KEY,
    latency_percentiles,
    retry_estimate,
    retry_groups,
)
from db.retention import kept_from

# Rollup rows turned into driver values at a time: a table's sums of 50,000 requests can be
# tens of thousands of rows, each a dozen Python objects once converted.
UPSERT_ROWS = 4_096
USERS = UserRollup.__table__
USERS_LOCK = 0x636F737475736572  # "costuser": one user-rollup rebuild at a time (PostgreSQL)

LOG = RequestLog.__table__
TABLES = {
    t.name: t
    for t in (
        DailyRollup.__table__,
        LatencyHistogram.__table__,
        LatencyDaily.__table__,
        LatencyQuantiles.__table__,
        OutputHistogram.__table__,
        OutputDaily.__table__,
        RoutingRollup.__table__,
        RoutingModelDaily.__table__,
        RoutingProjectDaily.__table__,
        UsageDaily.__table__,
        ModelDaily.__table__,
        FeatureDaily.__table__,
        FeatureModelDaily.__table__,
        RetryDaily.__table__,
        TrafficHourly.__table__,
    )
}
DAILY = TABLES["daily_rollup"]
# Tables keyed by week (`core.rollups.ROUTING_WEEKLY`), made again from their daily tables.
WEEKLY = {t.name: t for t in (RoutingModelWeekly.__table__, RoutingProjectWeekly.__table__)}
ROLLUP_TABLES = {**TABLES, **WEEKLY}  # every table `add_sums` adds to


def _driver_values(dialect_name: str, name: str, values: np.ndarray) -> list:
    """A rollup column as driver values (days: ISO text on SQLite, dates elsewhere)."""
    if name not in ("day", "week"):
        return values.tolist()
    days = values.astype("datetime64[D]")
    return np.datetime_as_string(days).tolist() if dialect_name == "sqlite" else days.tolist()


def _upsert(
    conn: Connection, table: Any, key: tuple[str, ...], columns: dict[str, np.ndarray]
) -> None:
    """Add the sums in `columns` into `table` on `key` (insert new keys, add to existing)."""
    names = [c.name for c in table.columns if c.name in columns]
    n = len(columns[names[0]])

    def make() -> Any:
        stmt = (
            dialect_module(conn.dialect.name).insert(table).values({n: bindparam(n) for n in names})
        )
        return stmt.on_conflict_do_update(
            index_elements=list(key),
            set_={n: _merged(conn, table.c[n], stmt.excluded[n]) for n in names if n not in key},
        )

    for start in range(0, n, UPSERT_ROWS):
        flat: list = [None] * (min(n - start, UPSERT_ROWS) * len(names))
        for i, name in enumerate(names):
            values = columns[name][start : start + UPSERT_ROWS]
            flat[i :: len(names)] = _driver_values(conn.dialect.name, name, values)
        execute_flat(conn, (table.name,), make, flat, len(names))


def _merged(conn: Connection, stored: Any, added: Any) -> Any:
    """A stored rollup value with a new one: the smaller or larger for an extreme, else the sum."""
    how = EXTREME_OF.get(stored.name)
    if how == "min":
        return case((added < stored, added), else_=stored)
    if how == "max":
        return case((added > stored, added), else_=stored)
    return _added(conn, stored, added)


def _added(conn: Connection, stored: Any, added: Any) -> Any:
    """`stored + added`. PostgreSQL refuses a BIGINT overflow; SQLite would silently turn the
    sum into a float, so there a money sum that would pass 2**63 - 1 becomes NULL, which the
    NOT NULL column refuses: the transaction fails instead of storing an inexact total."""
    total = stored + added
    if conn.dialect.name != "sqlite" or stored.name not in COST_COLUMNS:
        return total
    limit = literal_column(str(SUM_LIMIT))  # literal: the statement repeats one VALUES group
    return total + case((stored > limit - added, null()), else_=literal_column("0"))


def add_sums(conn: Connection, sums: RollupSums) -> None:
    """Add a chunk's rollup sums to the rollup tables (same transaction as its rows)."""
    for name, key, columns in sums:
        _upsert(conn, ROLLUP_TABLES[name], key, columns)


def _flag(condition: Any) -> Any:
    return case((condition, 1), else_=0)


def rollup_selects() -> list[Any]:
    """The daily rollup's sums in SQL over `request_log`: the definitions of `row_values`."""
    return [
        func.count().label("requests"),
        func.sum(_flag(~LOG.c.priced)).label("unpriced_requests"),
        *[func.sum(LOG.c[n]).label(n) for n in (*TOKEN_SUMS, *COST_COLUMNS)],
        func.sum(_flag(LOG.c.finish_reason == "length")).label("truncated"),
        func.sum(_flag(LOG.c.max_tokens.isnot(None))).label("with_max_tokens"),
        func.count(LOG.c.latency_ms).label("latency_count"),
        func.coalesce(func.sum(LOG.c.latency_ms), 0).label("latency_sum_ms"),
    ]


def bucket_clause(column: ColumnElement, grid: tuple[int, ...], first: int = 0) -> ColumnElement:
    """`core.rollups.token_bucket` in SQL (edges of `grid` below the value), a balanced CASE
    tree so a row takes a handful of comparisons whatever the grid's size."""
    if not grid:
        return literal(first)
    middle = len(grid) // 2
    low = bucket_clause(column, grid[:middle], first)
    high = bucket_clause(column, grid[middle + 1 :], first + middle + 1)
    return case((column <= grid[middle], low), else_=high)


def routing_groups() -> list[Any]:
    """The routing rollup's key in SQL over `request_log` (token buckets on the fixed grids)."""
    buckets = {
        "in_bucket": bucket_clause(LOG.c.input_tokens, INPUT_GRID),
        "out_bucket": bucket_clause(LOG.c.output_tokens, OUTPUT_GRID),
    }
    return [buckets[k].label(k) if k in buckets else LOG.c[k] for k in ROUTING_KEY]


def routing_selects() -> list[Any]:
    """The routing rollup's sums and extremes in SQL over `request_log`."""
    sums = {c.name: c for c in rollup_selects()}
    extremes = [
        (func.min if how == "min" else func.max)(LOG.c[source]).label(name)
        for name, source, how in ROUTING_EXTREMES
    ]
    return [*(sums[n] for n in ROUTING_SUMS), *extremes]


def hour_clause(conn: Connection, ts: Any) -> Any:
    """The UTC hour of the day (0-23) of a stored instant, in SQL (SQLite keeps UTC text,
    PostgreSQL timestamptz, read in UTC whatever the session's time zone)."""
    if conn.dialect.name == "sqlite":
        return cast(func.strftime("%H", ts), Integer)
    return cast(extract("hour", func.timezone("UTC", ts)), Integer)


def hourly_groups(conn: Connection) -> list[Any]:
    """The hourly rollup's key in SQL over `request_log` (`core.rollups.HOURLY_KEY`)."""
    columns = {
        "day": LOG.c.day,
        "hour": hour_clause(conn, LOG.c.ts),
        "latency_bucket": func.coalesce(LOG.c.latency_bucket, -1),
    }
    return [columns[k].label(k) for k in HOURLY_KEY]


def hourly_selects() -> list[Any]:
    """The hourly rollup's sums in SQL over `request_log`: requests, errors (status >= 400) and
    429s, as `core.rollups.rollup_sums` adds them."""
    return [
        func.count().label("requests"),
        func.sum(_flag(LOG.c.status >= 400)).label("errors"),
        func.sum(_flag(LOG.c.status == 429)).label("rate_limited"),
    ]


def rebuild(conn: Connection, days: Iterable[date] | None = None) -> None:
    """Recompute the rollups (all, or of `days`) from the stored rows, in SQL. Days before the
    kept rows start (pruned) keep their rollups."""
    start = kept_from(conn)
    day_list = _day_list(days)
    if day_list is not None and start is not None:
        day_list = [d for d in day_list if d >= start]
    if day_list == []:
        return
    for table in TABLES.values():
        conn.execute(delete(table).where(_days(table.c.day, day_list, start)))
    where = _days(LOG.c.day, day_list, start)
    _insert_select(
        conn, TABLES["daily_rollup"], [LOG.c[k] for k in ROLLUP_KEY], rollup_selects(), where
    )
    derive_from_daily(conn, day_list, start)
    _insert_select(conn, TABLES["routing_rollup"], routing_groups(), routing_selects(), where)
    derive_routing(conn, day_list, start)
    rebuild_users(conn, day_list)
    _insert_select(conn, TABLES["traffic_hourly"], hourly_groups(conn), hourly_selects(), where)
    for name, key, column in (
        ("latency_histogram", HISTOGRAM_KEY, LOG.c.latency_bucket),
        ("latency_daily", DAILY_KEY, LOG.c.latency_bucket),
        ("output_histogram", HISTOGRAM_KEY, LOG.c.output_bucket),
        ("output_daily", DAILY_KEY, LOG.c.output_bucket),
    ):
        group = [*(LOG.c[k] for k in key), column.label("bucket")]
        _insert_select(
            conn, TABLES[name], group, [func.count().label("count")], where & column.isnot(None)
        )
    rebuild_latency(conn, day_list, start)


def derive_from_daily(
    conn: Connection, days: Iterable[date] | None = None, start: date | None = None
) -> None:
    """Make the coarser rollups (`core.rollups.COARSER`) and the retry estimates of `days`
    (all if None; only from `start` on when given) again from the daily rollup."""
    day_list = _day_list(days)
    for name, key in COARSER.items():
        table = TABLES[name]
        conn.execute(delete(table).where(_days(table.c.day, day_list, start)))
        sums = [func.sum(DAILY.c[n]).label(n) for n in ROLLUP_SUMS]
        where = _days(DAILY.c.day, day_list, start)
        _insert_select(conn, table, [DAILY.c[k] for k in key], sums, where)
    rebuild_retries(conn, day_list, start)


def derive_routing(
    conn: Connection, days: Iterable[date] | None = None, start: date | None = None
) -> None:
    """Make the coarser routing rollups (`core.rollups.ROUTING_COARSER`) of `days` (all if
    None; only from `start` on when given) again from the routing rollup."""
    day_list = _day_list(days)
    routing = TABLES["routing_rollup"]
    for name, key in ROUTING_COARSER.items():
        table = TABLES[name]
        conn.execute(delete(table).where(_days(table.c.day, day_list, start)))
        values = [_reduced(EXTREME_OF.get(n), routing.c[n]).label(n) for n in ROUTING_COLUMNS]
        where = _days(routing.c.day, day_list, start)
        _insert_select(conn, table, [routing.c[k] for k in key], values, where)
    derive_weeks(conn, day_list, start)


def week_clause(conn: Connection, day: Any) -> Any:
    """`core.rollups.week_of` in SQL: the Monday on or before `day`."""
    if conn.dialect.name == "sqlite":
        return func.date(day, literal("-6 days"), literal("weekday 1"), type_=Date)
    return day - cast(extract("isodow", day), Integer) + 1


def derive_weeks(
    conn: Connection, days: Iterable[date] | None = None, start: date | None = None
) -> None:
    """Make the weekly rollups (`core.rollups.ROUTING_WEEKLY`) of the weeks holding `days`
    (all if None; only from `start`'s week on when given) again from their daily tables, each
    week from all its days (its pruned ones too)."""
    day_list = _day_list(days)
    weeks = None if day_list is None else sorted(set(week_of(np.array(day_list)).tolist()))
    first = None if start is None else week_of(np.array([start]))[0].item()
    for name, (source, key) in ROUTING_WEEKLY.items():
        table, daily = WEEKLY[name], TABLES[source]
        week = week_clause(conn, daily.c.day)
        conn.execute(delete(table).where(_days(table.c.week, weeks, first)))
        values = [_reduced(EXTREME_OF.get(n), daily.c[n]).label(n) for n in ROUTING_COLUMNS]
        group = [daily.c[k] if k != "week" else week.label("week") for k in key]
        _insert_select(conn, table, group, values, _days(week, weeks, first))


def _reduced(how: str | None, column: Any) -> Any:
    """The SQL aggregate of a rollup column: its extreme for `in_min`..`out_max`, else a sum."""
    if how is None:
        return cast(func.sum(column), BigInteger)
    return (func.min if how == "min" else func.max)(column)


def rebuild_retries(
    conn: Connection, days: Iterable[date] | None = None, start: date | None = None
) -> None:
    """Estimate the cost of failure of `days` (all if None) again from the daily rollup: the
    estimate is not a sum, so new rows of a day change it as a whole."""
    day_list = _day_list(days)
    table = TABLES["retry_daily"]
    conn.execute(delete(table).where(_days(table.c.day, day_list, start)))
    groups = retry_groups(_days(DAILY.c.day, day_list, start))
    key = [groups.c[k] for k in RETRY_KEY]
    _insert_select(conn, table, key, retry_estimate(groups), true())


def rebuild_latency(
    conn: Connection, days: Iterable[date] | None = None, start: date | None = None
) -> None:
    """P50 and P95 per day and model of `days` (all if None) again from `latency_daily`:
    percentiles are not sums, so new rows of a day change them as a whole."""
    day_list = _day_list(days)
    table, daily = TABLES["latency_quantiles"], TABLES["latency_daily"].c
    conn.execute(delete(table).where(_days(table.c.day, day_list, start)))
    query = select(daily.day, daily.model_id, daily.bucket, daily["count"]).where(
        _days(daily.day, day_list, start)
    )
    rows = [tuple(r) for r in conn.execute(query)]
    histogram = pd.DataFrame(rows, columns=["day", "model_id", "bucket", "count"])
    quantiles = latency_percentiles(histogram)
    if len(quantiles):
        conn.execute(table.insert(), quantiles.to_dict("records"))


def _day_list(days: Iterable[date] | None) -> list[date] | None:
    """`days` as a sorted list without repeats (None: every day)."""
    return sorted(set(days)) if days is not None else None


def _days(column: Any, day_list: list[date] | None, start: date | None) -> Any:
    """Rows of `day_list`, else of every kept day (all when nothing was pruned)."""
    if day_list is not None:
        return column.in_(day_list)
    return column >= start if start is not None else true()


def _insert_select(conn: Connection, table: Any, key: list, sums: list, where: Any) -> None:
    query = select(*key, *sums).where(where).group_by(*key)
    names = [c.name for c in query.selected_columns]
    conn.execute(table.insert().from_select(names, query))


def top_users(per_user: list[tuple]) -> list[tuple]:
    """(user, sums...) rows of one day as the user rollup keeps them: the TOP_USERS users
    with the highest cost (ties by name), the rest summed under OTHER_USERS; "" (no user)
    stays its own row. Sums are in USER_SUMS order, cost last."""
    named = sorted((r for r in per_user if r[0] != ""), key=lambda r: (-int(r[-1]), r[0]))
    kept = [r for r in per_user if r[0] == ""] + named[:TOP_USERS]
    rest = named[TOP_USERS:]
    if rest:
        kept.append((OTHER_USERS, *(sum(int(r[i]) for r in rest) for i in range(1, len(rest[0])))))
    return [(r[0], *(int(v) for v in r[1:])) for r in kept]


def rebuild_users(
    conn: Connection,
    days: Iterable[date] | None = None,
    known: dict[date, list[tuple]] | None = None,
) -> None:
    """Recompute the user rollup of `days` (all kept days if None) from the stored rows, one
    day at a time over the `ts` index. Pruned days keep theirs.

    `known` holds an ingest's (user, *USER_SUMS) sums per day of the rows it stored: a day
    whose stored requests are exactly that many (all of them this ingest's) takes its top users
    from those sums rather than from its rows (the same figures: the ingest's property test
    holds the two equal)."""
    if conn.dialect.name == "postgresql":  # two ingests of one day must not interleave
        conn.execute(select(func.pg_advisory_xact_lock(USERS_LOCK)))
    start = kept_from(conn)
    if days is None:
        found = conn.execute(select(LOG.c.day).distinct()).scalars().all()
        days = [date.fromisoformat(d) if isinstance(d, str) else d for d in found]
    for day in sorted(set(days)):
        if start is not None and day < start:
            continue
        conn.execute(delete(USERS).where(USERS.c.day == day))
        mine = (known or {}).get(day)
        if mine is not None and _requests_on(conn, day) == sum(row[1] for row in mine):
            rows = top_users(mine)
        else:
            rows = _user_sums(conn, day)
        if rows:
            names = ("day", "user", *USER_SUMS)
            conn.execute(USERS.insert(), [dict(zip(names, (day, *r), strict=True)) for r in rows])


def _day_range(day: date) -> Any:
    """The `ts` condition of one UTC day's rows."""
    after = datetime.combine(day + timedelta(days=1), time.min, UTC)
    return and_(LOG.c.ts >= datetime.combine(day, time.min, UTC), LOG.c.ts < after)


def _requests_on(conn: Connection, day: date) -> int:
    """How many requests of `day` are stored (counted on the `ts` index)."""
    return conn.execute(select(func.count()).select_from(LOG).where(_day_range(day))).scalar()


def _user_sums(conn: Connection, day: date) -> list[tuple]:
    """(user, requests, unpriced, input, cached input, output, cost) of one day's rows."""
    sums = {c.name: c for c in rollup_selects()}
    query = (
        select(LOG.c.user, *(sums[n] for n in USER_SUMS))
        .where(_day_range(day))
        .group_by(LOG.c.user)
    )
    return top_users([tuple(r) for r in conn.execute(query)])
