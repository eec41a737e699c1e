"""0015_upload_span: each upload remembers the first and last day of the requests it stored.

The upload history shows what span of days an upload covered, and the span must outlive the
raw rows (they may be pruned after N days while the upload row stays). Uploads stored before
this step get the span of the rows still under them; an upload without rows keeps none.
"""

from __future__ import annotations

from sqlalchemy import Connection

NAME = "0015_upload_span"

STATEMENTS = (
    "ALTER TABLE upload ADD COLUMN first_day DATE",
    "ALTER TABLE upload ADD COLUMN last_day DATE",
    "UPDATE upload SET "
    "first_day = (SELECT MIN(r.day) FROM request_log r WHERE r.upload_id = upload.id), "
    "last_day = (SELECT MAX(r.day) FROM request_log r WHERE r.upload_id = upload.id)",
)


def apply(conn: Connection) -> None:
    """Add the two day columns and fill them from the stored requests."""
    for statement in STATEMENTS:
        conn.exec_driver_sql(statement)
