"""0017_audit_trail: every change to stored data, with who made it, when, and before/after.

Rows are only ever added (the dashboard has no way to edit or delete them). `before` and
`after` hold the changed record as JSON text, or NULL when there was none.
"""

from __future__ import annotations

from sqlalchemy import Connection

NAME = "0017_audit_trail"

TYPES = {
    "sqlite": {"serial": "INTEGER", "timestamp": "DATETIME"},
    "postgresql": {"serial": "SERIAL", "timestamp": "TIMESTAMP WITH TIME ZONE"},
}

STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS audit_event (
        id {serial} NOT NULL,
        at {timestamp} NOT NULL,
        actor VARCHAR NOT NULL,
        role VARCHAR NOT NULL,
        via VARCHAR NOT NULL,
        action VARCHAR NOT NULL,
        target VARCHAR NOT NULL,
        before VARCHAR,
        after VARCHAR,
        PRIMARY KEY (id)
    )""",
    "CREATE INDEX IF NOT EXISTS ix_audit_event_at ON audit_event (at)",
)


def apply(conn: Connection) -> None:
    """Create `audit_event` and its time index."""
    types = TYPES[conn.dialect.name]
    for statement in STATEMENTS:
        conn.exec_driver_sql(statement.format(**types))
