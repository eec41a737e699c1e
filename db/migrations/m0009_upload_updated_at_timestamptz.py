"""0009_upload_updated_at_timestamptz: `upload.updated_at` as an aware timestamp on PostgreSQL.

Step 0004 added the column as `TIMESTAMP`, which PostgreSQL reads as `timestamp without time
zone`, while every other timestamp (and the table model) is `timestamptz`. Aware datetimes
were converted with the session time zone on the way in; the default cast converts them back
with it. SQLite keeps any declared type's text as it is, so nothing changes there.
"""

from __future__ import annotations

from sqlalchemy import Connection

NAME = "0009_upload_updated_at_timestamptz"

FIND_NAIVE = (
    "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
    "AND table_name = 'upload' AND column_name = 'updated_at' "
    "AND data_type = 'timestamp without time zone'"
)
ALTER = "ALTER TABLE upload ALTER COLUMN updated_at TYPE TIMESTAMP WITH TIME ZONE"


def apply(conn: Connection) -> None:
    """Change the column's type where it is still naive (PostgreSQL only)."""
    if conn.dialect.name != "postgresql":
        return
    if conn.exec_driver_sql(FIND_NAIVE).first():
        conn.exec_driver_sql(ALTER)
