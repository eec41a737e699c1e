"""0026_feature_by_model: spend per feature with the canonical model in front.

`feature_model_daily` holds the daily rollup's sums per canonical model, project, feature and
day, clustered in that order (WITHOUT ROWID on SQLite). Spend per project and feature under a
model filter read the daily rollup's every row of the period (`feature_daily` has no model);
here it reads the chosen models' rows only. Filled from the daily rollup, so pruned days keep
their figures.
"""

from __future__ import annotations

from sqlalchemy import Connection

# the daily rollup's sums and the clustering clause, as step 0023 froze them
from db.migrations.m0023_small_rollups import SUMS, WITHOUT_ROWID

NAME = "0026_feature_by_model"

KEY = ("model_id", "project", "feature", "day")
TABLE = """CREATE TABLE feature_model_daily (
    model_id VARCHAR NOT NULL,
    project VARCHAR NOT NULL,
    feature VARCHAR NOT NULL,
    day DATE NOT NULL,
    {sums},
    PRIMARY KEY ({key})
){without_rowid}"""
FILL = (
    "INSERT INTO feature_model_daily ({key}, {sums}) "
    "SELECT {key}, {totals} FROM daily_rollup GROUP BY {key}"
)


def apply(conn: Connection) -> None:
    """Create the table and fill it from the daily rollup."""
    columns = ",\n    ".join(f"{name} BIGINT DEFAULT '0' NOT NULL" for name in SUMS)
    without_rowid = WITHOUT_ROWID[conn.dialect.name]
    conn.exec_driver_sql(
        TABLE.format(sums=columns, key=", ".join(KEY), without_rowid=without_rowid)
    )
    apply_fill(conn)


def apply_fill(conn: Connection) -> None:
    """Fill the (empty) table from the daily rollup."""
    key = ", ".join(KEY)
    totals = ", ".join(f"CAST(sum({name}) AS BIGINT)" for name in SUMS)
    conn.exec_driver_sql(FILL.format(key=key, sums=", ".join(SUMS), totals=totals))
