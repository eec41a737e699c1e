"""0007_narrow_histograms: histograms keyed by what the Usage page filters on.

Histograms without feature/provider/batch (the Usage page never filters on them): fewer rows
to upsert per ingested chunk and to scan per page view; plus a (day, model) latency histogram
for the page's default, unfiltered view. The counts of the wide `*_bucket` tables are summed
into the new tables, then the wide tables are dropped. On SQLite the primary key is the
clustered order (WITHOUT ROWID), in the order each Usage query groups by.
"""

from __future__ import annotations

from sqlalchemy import Connection, inspect

NAME = "0007_narrow_histograms"

TYPES = {"sqlite": {"without_rowid": " WITHOUT ROWID"}, "postgresql": {"without_rowid": ""}}

CREATE = (
    """CREATE TABLE IF NOT EXISTS latency_histogram (
        day DATE NOT NULL,
        model VARCHAR NOT NULL,
        bucket INTEGER NOT NULL,
        project VARCHAR NOT NULL,
        status INTEGER NOT NULL,
        count BIGINT DEFAULT '0' NOT NULL,
        PRIMARY KEY (day, model, bucket, project, status)
    ){without_rowid}""",
    """CREATE TABLE IF NOT EXISTS output_histogram (
        model VARCHAR NOT NULL,
        bucket INTEGER NOT NULL,
        day DATE NOT NULL,
        project VARCHAR NOT NULL,
        status INTEGER NOT NULL,
        count BIGINT DEFAULT '0' NOT NULL,
        PRIMARY KEY (model, bucket, day, project, status)
    ){without_rowid}""",
    """CREATE TABLE IF NOT EXISTS latency_daily (
        day DATE NOT NULL,
        model VARCHAR NOT NULL,
        bucket INTEGER NOT NULL,
        count BIGINT DEFAULT '0' NOT NULL,
        PRIMARY KEY (day, model, bucket)
    ){without_rowid}""",
)

KEY = "day, model, bucket, project, status"
MOVES = (("latency_bucket", "latency_histogram"), ("output_bucket", "output_histogram"))
FILL_DAILY = (
    "INSERT INTO latency_daily (day, model, bucket, count) "
    "SELECT day, model, bucket, SUM(count) FROM latency_histogram "
    "GROUP BY day, model, bucket"
)


def apply(conn: Connection) -> None:
    """Create the narrow tables, move the wide tables' counts into them, drop the wide ones."""
    types = TYPES[conn.dialect.name]
    for statement in CREATE:
        conn.exec_driver_sql(statement.format(**types))
    existing = set(inspect(conn).get_table_names())
    for old, new in MOVES:
        if old not in existing:
            continue
        conn.exec_driver_sql(
            f"INSERT INTO {new} ({KEY}, count) SELECT {KEY}, SUM(count) FROM {old} GROUP BY {KEY}"
        )
        conn.exec_driver_sql(f"DROP TABLE {old}")
    conn.exec_driver_sql(FILL_DAILY)
