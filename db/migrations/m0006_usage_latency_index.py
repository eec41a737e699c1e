"""0006_usage_latency_index: a covering index for the Usage page's latency percentiles.

The page scans the index instead of sorting the table. Dropped with its table in 0007.
"""

from __future__ import annotations

from sqlalchemy import Connection

NAME = "0006_usage_latency_index"

STATEMENT = (
    "CREATE INDEX IF NOT EXISTS ix_latency_bucket_usage ON latency_bucket "
    '("day", "model", "bucket", "count", "project", "status")'
)


def apply(conn: Connection) -> None:
    """Create the index (the same DDL on both databases)."""
    conn.exec_driver_sql(STATEMENT)
