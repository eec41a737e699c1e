"""0029_routing_by_project: the routing rollup summed over feature, per day and per week.

`routing_project_daily` holds, per day, canonical model, project, status, batch and token-size
buckets, the sums and extremes of `routing_rollup`'s rows; `routing_project_weekly` the same per
week (the Monday it starts on), summed from the daily table. A simulation whose rules or filters
name a project or a status but no feature reads a period's whole weeks from the weekly table
and its other days from the daily one: features are many, so these hold a fraction of the
routing rollup's rows. The daily table is clustered day first (WITHOUT ROWID on SQLite), so
a period's first and last days are one range of it; the weekly one with the week last, so it
is read in key order and summed per group without a sort (a period's weeks are most of it).
Both are filled from the routing rollup, so pruned days keep their figures.
"""

from __future__ import annotations

from sqlalchemy import Connection

# the routing sums, extremes and clustering clause and the week rule, as steps 0023, 0025 and
# 0027 froze them
from db.migrations.m0023_small_rollups import WITHOUT_ROWID
from db.migrations.m0025_routing_by_model import EXTREMES, SUMS
from db.migrations.m0027_routing_by_week import WEEK

NAME = "0029_routing_by_project"

GROUP = ("model_id", "project", "status", "batch", "in_bucket", "out_bucket")
TABLE = """CREATE TABLE {name} (
    {period} DATE NOT NULL,
    model_id VARCHAR NOT NULL,
    project VARCHAR DEFAULT '' NOT NULL,
    status INTEGER NOT NULL,
    batch BOOLEAN NOT NULL,
    in_bucket INTEGER NOT NULL,
    out_bucket INTEGER NOT NULL,
    {sums},
    in_min BIGINT NOT NULL,
    in_max BIGINT NOT NULL,
    out_min BIGINT NOT NULL,
    out_max BIGINT NOT NULL,
    PRIMARY KEY ({key})
){without_rowid}"""
FILL = (
    "INSERT INTO {name} ({period}, {group}, {columns}) "
    "SELECT {period_of}, {group}, {totals} FROM {source} GROUP BY {period_of}, {group}"
)


def apply(conn: Connection) -> None:
    """Create both tables and fill them from the routing rollup."""
    sums = ",\n    ".join(f"{name} BIGINT DEFAULT '0' NOT NULL" for name in SUMS)
    for name, period, key in (
        ("routing_project_daily", "day", ("day", *GROUP)),
        ("routing_project_weekly", "week", (*GROUP, "week")),
    ):
        conn.exec_driver_sql(
            TABLE.format(
                name=name,
                period=period,
                key=", ".join(key),
                sums=sums,
                without_rowid=WITHOUT_ROWID[conn.dialect.name],
            )
        )
    apply_fill(conn)


def apply_fill(conn: Connection) -> None:
    """Fill the (empty) tables: days from the routing rollup, weeks from those days."""
    columns = [*SUMS, *(name for name, _ in EXTREMES)]
    totals = [f"CAST(sum({name}) AS BIGINT)" for name in SUMS]
    totals += [f"{how}({name})" for name, how in EXTREMES]
    for name, period, period_of, source in (
        ("routing_project_daily", "day", "day", "routing_rollup"),
        ("routing_project_weekly", "week", WEEK[conn.dialect.name], "routing_project_daily"),
    ):
        conn.exec_driver_sql(
            FILL.format(
                name=name,
                period=period,
                period_of=period_of,
                group=", ".join(GROUP),
                columns=", ".join(columns),
                totals=", ".join(totals),
                source=source,
            )
        )
