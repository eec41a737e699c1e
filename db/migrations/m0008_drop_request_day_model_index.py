"""0008_drop_request_day_model_index: no (day, model) index on `request_log`.

Every inserted row paid for it, while the queries that read `request_log` by time use the ts
index and the Usage page reads the rollups.
"""

from __future__ import annotations

from sqlalchemy import Connection

NAME = "0008_drop_request_day_model_index"

STATEMENT = "DROP INDEX IF EXISTS ix_request_log_day_model"


def apply(conn: Connection) -> None:
    """Drop the index (the same DDL on both databases)."""
    conn.exec_driver_sql(STATEMENT)
