"""0025_routing_by_model: the routing rollup summed over project, feature and status.

`routing_model_daily` holds, per canonical model, batch, token-size buckets and day, the sums
and extremes of `routing_rollup`'s rows. A simulation whose rules match on no project, feature
or status (the Routing page before a rule names one, its suggestions, plan vs actual, the
digest's saving) reads it: about a tenth of the routing rollup's rows, and a period's groups
are a few thousand instead of a hundred thousand. It is clustered on its key (WITHOUT ROWID on
SQLite) with the day last, so a period's sums per model and bucket are read in key order,
without a sort; it is filled from the routing rollup, so pruned days keep their figures.
"""

from __future__ import annotations

from sqlalchemy import Connection

from db.migrations.m0023_small_rollups import WITHOUT_ROWID  # as step 0023 froze it

NAME = "0025_routing_by_model"

KEY = ("model_id", "batch", "in_bucket", "out_bucket", "day")
SUMS = (
    "requests", "unpriced_requests", "input_tokens", "cached_input_tokens",
    "cache_write_tokens", "output_tokens", "reasoning_tokens", "cost_pusd",
)  # fmt: skip
EXTREMES = (("in_min", "min"), ("in_max", "max"), ("out_min", "min"), ("out_max", "max"))
TABLE = """CREATE TABLE routing_model_daily (
    model_id VARCHAR NOT NULL,
    batch BOOLEAN NOT NULL,
    in_bucket INTEGER NOT NULL,
    out_bucket INTEGER NOT NULL,
    day DATE NOT NULL,
    {sums},
    in_min BIGINT NOT NULL,
    in_max BIGINT NOT NULL,
    out_min BIGINT NOT NULL,
    out_max BIGINT NOT NULL,
    PRIMARY KEY ({key})
){without_rowid}"""
FILL = (
    "INSERT INTO routing_model_daily ({key}, {columns}) "
    "SELECT {key}, {totals} FROM routing_rollup GROUP BY {key}"
)


def apply(conn: Connection) -> None:
    """Create the table and fill it from the routing rollup."""
    sums = ",\n    ".join(f"{name} BIGINT DEFAULT '0' NOT NULL" for name in SUMS)
    without_rowid = WITHOUT_ROWID[conn.dialect.name]
    conn.exec_driver_sql(TABLE.format(sums=sums, key=", ".join(KEY), without_rowid=without_rowid))
    apply_fill(conn)


def apply_fill(conn: Connection) -> None:
    """Fill the (empty) table from the routing rollup."""
    key = ", ".join(KEY)
    columns = [*SUMS, *(name for name, _ in EXTREMES)]
    totals = [f"CAST(sum({name}) AS BIGINT)" for name in SUMS]
    totals += [f"{how}({name})" for name, how in EXTREMES]
    conn.exec_driver_sql(FILL.format(key=key, columns=", ".join(columns), totals=", ".join(totals)))
