"""0016_model_shortlist: the models a team has validated on its own prompts."""

from __future__ import annotations

from sqlalchemy import Connection

NAME = "0016_model_shortlist"

TYPES = {
    "sqlite": {"serial": "INTEGER", "timestamp": "DATETIME"},
    "postgresql": {"serial": "SERIAL", "timestamp": "TIMESTAMP WITH TIME ZONE"},
}

STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS model_shortlist (
        model VARCHAR NOT NULL,
        provider VARCHAR NOT NULL,
        note VARCHAR NOT NULL,
        created_at {timestamp} NOT NULL,
        id {serial} NOT NULL,
        PRIMARY KEY (id),
        CONSTRAINT uq_model_shortlist_model UNIQUE (model)
    )""",
)


def apply(conn: Connection) -> None:
    """Create `model_shortlist`."""
    types = TYPES[conn.dialect.name]
    for statement in STATEMENTS:
        conn.exec_driver_sql(statement.format(**types))
