"""0006_usage_output_index: a covering index for the Usage page's max_tokens audit.

Dropped with its table in 0007.
"""

from __future__ import annotations

from sqlalchemy import Connection

NAME = "0006_usage_output_index"

STATEMENT = (
    "CREATE INDEX IF NOT EXISTS ix_output_bucket_usage ON output_bucket "
    '("model", "bucket", "count", "day", "project", "status")'
)


def apply(conn: Connection) -> None:
    """Create the index (the same DDL on both databases)."""
    conn.exec_driver_sql(STATEMENT)
