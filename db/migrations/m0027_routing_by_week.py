"""0027_routing_by_week: the routing rollup by model, summed per week.

`routing_model_weekly` holds, per canonical model, batch, token-size buckets and week (the
Monday it starts on), the sums and extremes of `routing_model_daily`'s rows. A simulation whose
rules match on no label reads a period's whole weeks here and only its first and last few days
from the daily table: on a realistic log a model's groups recur from day to day, so a week
holds about a quarter of its days' rows. Clustered on its key (WITHOUT ROWID on SQLite) with
the week last, like the daily table; filled from it, so pruned days keep their figures.
"""

from __future__ import annotations

from sqlalchemy import Connection

# the routing sums, extremes and clustering clause, as steps 0023 and 0025 froze them
from db.migrations.m0023_small_rollups import WITHOUT_ROWID
from db.migrations.m0025_routing_by_model import EXTREMES, SUMS

NAME = "0027_routing_by_week"

KEY = ("model_id", "batch", "in_bucket", "out_bucket", "week")
GROUP = ("model_id", "batch", "in_bucket", "out_bucket")
# The Monday on or before a day: SQLite steps back six days, then forward to a Monday;
# PostgreSQL subtracts the ISO weekday (Monday 1) less one from the date.
WEEK = {
    "sqlite": "date(day, '-6 days', 'weekday 1')",
    "postgresql": "day - CAST(EXTRACT(ISODOW FROM day) AS INTEGER) + 1",
}
TABLE = """CREATE TABLE routing_model_weekly (
    model_id VARCHAR NOT NULL,
    batch BOOLEAN NOT NULL,
    in_bucket INTEGER NOT NULL,
    out_bucket INTEGER NOT NULL,
    week DATE NOT NULL,
    {sums},
    in_min BIGINT NOT NULL,
    in_max BIGINT NOT NULL,
    out_min BIGINT NOT NULL,
    out_max BIGINT NOT NULL,
    PRIMARY KEY ({key})
){without_rowid}"""
FILL = (
    "INSERT INTO routing_model_weekly ({key}, {columns}) "
    "SELECT {group}, {week}, {totals} FROM routing_model_daily GROUP BY {group}, {week}"
)


def apply(conn: Connection) -> None:
    """Create the table and fill it from the routing rollup by model."""
    sums = ",\n    ".join(f"{name} BIGINT DEFAULT '0' NOT NULL" for name in SUMS)
    without_rowid = WITHOUT_ROWID[conn.dialect.name]
    conn.exec_driver_sql(TABLE.format(sums=sums, key=", ".join(KEY), without_rowid=without_rowid))
    apply_fill(conn)


def apply_fill(conn: Connection) -> None:
    """Fill the (empty) table from the routing rollup by model."""
    columns = [*SUMS, *(name for name, _ in EXTREMES)]
    totals = [f"CAST(sum({name}) AS BIGINT)" for name in SUMS]
    totals += [f"{how}({name})" for name, how in EXTREMES]
    conn.exec_driver_sql(
        FILL.format(
            key=", ".join(KEY),
            columns=", ".join(columns),
            group=", ".join(GROUP),
            week=WEEK[conn.dialect.name],
            totals=", ".join(totals),
        )
    )
