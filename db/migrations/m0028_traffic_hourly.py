"""0028_traffic_hourly: requests, errors and 429s of all traffic per hour and latency bucket.

`traffic_hourly` holds, per UTC day, hour of the day (0-23) and latency bucket (-1 for calls
without a latency), the requests, the errors (status >= 400) and the 429s. The alert rules on
windows (error rate, P95 latency, 429s) of all traffic read a month of it instead of the
month's request rows. Clustered on its key (WITHOUT ROWID on SQLite); filled from the stored
rows, so days pruned before this step start with no hourly figures.
"""

from __future__ import annotations

from sqlalchemy import Connection

# the clustering clause, as step 0023 froze it
from db.migrations.m0023_small_rollups import WITHOUT_ROWID

NAME = "0028_traffic_hourly"

TABLE = """CREATE TABLE traffic_hourly (
    day DATE NOT NULL,
    hour INTEGER NOT NULL,
    latency_bucket INTEGER NOT NULL,
    requests BIGINT DEFAULT '0' NOT NULL,
    errors BIGINT DEFAULT '0' NOT NULL,
    rate_limited BIGINT DEFAULT '0' NOT NULL,
    PRIMARY KEY (day, hour, latency_bucket)
){without_rowid}"""
# The UTC hour of a stored instant: SQLite keeps UTC text; PostgreSQL reads the timestamptz
# in UTC whatever the session's time zone.
HOUR = {
    "sqlite": "CAST(strftime('%H', ts) AS INTEGER)",
    "postgresql": "CAST(EXTRACT(HOUR FROM timezone('UTC', ts)) AS INTEGER)",
}
FILL = (
    "INSERT INTO traffic_hourly (day, hour, latency_bucket, requests, errors, rate_limited) "
    "SELECT day, {hour}, coalesce(latency_bucket, -1), count(*), "
    "sum(CASE WHEN status >= 400 THEN 1 ELSE 0 END), "
    "sum(CASE WHEN status = 429 THEN 1 ELSE 0 END) "
    "FROM request_log GROUP BY day, {hour}, coalesce(latency_bucket, -1)"
)


def apply(conn: Connection) -> None:
    """Create the table and fill it from the stored request rows."""
    conn.exec_driver_sql(TABLE.format(without_rowid=WITHOUT_ROWID[conn.dialect.name]))
    apply_fill(conn)


def apply_fill(conn: Connection) -> None:
    """Fill the (empty) table from the stored request rows."""
    conn.exec_driver_sql(FILL.format(hour=HOUR[conn.dialect.name]))
