"""0012_ingest_keys: the keys that senders present to the live receiver.

A key is shown once when it is made; only its SHA-256 (64 hex digits) is stored. Names are
unique for good, revoked keys included, so an upload named after a key always means one key.
"""

from __future__ import annotations

from sqlalchemy import Connection

NAME = "0012_ingest_keys"

TYPES = {
    "sqlite": {"serial": "INTEGER", "timestamp": "DATETIME"},
    "postgresql": {"serial": "SERIAL", "timestamp": "TIMESTAMP WITH TIME ZONE"},
}

TABLE = """CREATE TABLE IF NOT EXISTS ingest_key (
    name VARCHAR NOT NULL,
    project VARCHAR,
    key_hash VARCHAR NOT NULL,
    created_at {timestamp} NOT NULL,
    last_used_at {timestamp},
    revoked_at {timestamp},
    id {serial} NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT uq_ingest_key_name UNIQUE (name),
    CONSTRAINT uq_ingest_key_hash UNIQUE (key_hash)
)"""


def apply(conn: Connection) -> None:
    """Create the `ingest_key` table."""
    conn.exec_driver_sql(TABLE.format(**TYPES[conn.dialect.name]))
