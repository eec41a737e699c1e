"""Rollups in the database: add a chunk's sums as it is stored, rebuild them from stored rows.

`add_sums` upserts what `core.rollups` computed for newly inserted events, in the same
transaction as the rows. `rebuild` recomputes the rollups of some days (or all) from
`request_log` in SQL, after a delete or a re-price; its SQL spells out the same definitions as
`core.rollups.row_values`, and a property test holds the two equal on every column.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import Connection, bindparam, case, delete, func, literal_column, null, select

from core.rollups import (
    COST_COLUMNS,
    DAILY_KEY,
    HISTOGRAM_KEY,
    ROLLUP_KEY,
    SUM_LIMIT,
    TOKEN_SUMS,
    RollupSums,
)
from db.ingest.bulk import dialect_module, execute_flat
from db.models import DailyRollup, LatencyDaily, LatencyHistogram, OutputHistogram, RequestLog

LOG = RequestLog.__table__
TABLES = {
    t.name: t
    for t in (
        DailyRollup.__table__,
        LatencyHistogram.__table__,
        LatencyDaily.__table__,
        OutputHistogram.__table__,
    )
}


def _driver_values(dialect_name: str, name: str, values: np.ndarray) -> list:
    """A rollup column as driver values (days: ISO text on SQLite, dates elsewhere)."""
    if name != "day":
        return values.tolist()
    days = values.astype("datetime64[D]")
    return np.datetime_as_string(days).tolist() if dialect_name == "sqlite" else days.tolist()


def _upsert(
    conn: Connection, table: Any, key: tuple[str, ...], columns: dict[str, np.ndarray]
) -> None:
    """Add the sums in `columns` into `table` on `key` (insert new keys, add to existing)."""
    names = [c.name for c in table.columns if c.name in columns]
    n = len(columns[names[0]])
    if not n:
        return
    flat: list = [None] * (n * len(names))
    for i, name in enumerate(names):
        flat[i :: len(names)] = _driver_values(conn.dialect.name, name, columns[name])

    def make() -> Any:
        stmt = (
            dialect_module(conn.dialect.name).insert(table).values({n: bindparam(n) for n in names})
        )
        return stmt.on_conflict_do_update(
            index_elements=list(key),
            set_={n: _added(conn, table.c[n], stmt.excluded[n]) for n in names if n not in key},
        )

    execute_flat(conn, (table.name,), make, flat, len(names))


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
        _upsert(conn, TABLES[name], key, columns)


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


def rebuild(conn: Connection, days: Iterable[date] | None = None) -> None:
    """Recompute the rollups (all, or of `days`) from the stored rows, in SQL."""
    day_list = sorted(set(days)) if days is not None else None
    for table in TABLES.values():
        stmt = delete(table)
        if day_list is not None:
            stmt = stmt.where(table.c.day.in_(day_list))
        conn.execute(stmt)
    where = LOG.c.day.in_(day_list) if day_list is not None else None
    _insert_select(
        conn, TABLES["daily_rollup"], [LOG.c[k] for k in ROLLUP_KEY], rollup_selects(), where
    )
    for name, key, column in (
        ("latency_histogram", HISTOGRAM_KEY, LOG.c.latency_bucket),
        ("latency_daily", DAILY_KEY, LOG.c.latency_bucket),
        ("output_histogram", HISTOGRAM_KEY, LOG.c.output_bucket),
    ):
        condition = column.isnot(None) if where is None else (where & column.isnot(None))
        group = [*(LOG.c[k] for k in key), column.label("bucket")]
        _insert_select(conn, TABLES[name], group, [func.count().label("count")], condition)


def _insert_select(conn: Connection, table: Any, key: list, sums: list, where: Any) -> None:
    query = select(*key, *sums)
    if where is not None:
        query = query.where(where)
    query = query.group_by(*key)
    names = [c.name for c in query.selected_columns]
    conn.execute(table.insert().from_select(names, query))
