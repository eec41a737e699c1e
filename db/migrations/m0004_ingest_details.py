"""0004_ingest_details: remembered CSV mappings, per-row cost parts and histogram buckets.

Databases first created by a release between this step's tables and its ledger entry already
have some of these columns, so each one is added only when it is missing.
"""

from __future__ import annotations

from sqlalchemy import Connection, inspect

NAME = "0004_ingest_details"

TYPES = {
    "sqlite": {"serial": "INTEGER", "timestamp": "DATETIME"},
    "postgresql": {"serial": "SERIAL", "timestamp": "TIMESTAMP WITH TIME ZONE"},
}

CREATE_COLUMN_MAPPING = """CREATE TABLE IF NOT EXISTS column_mapping (
    id {serial} NOT NULL,
    header_key VARCHAR(64) NOT NULL,
    mapping_json VARCHAR NOT NULL,
    updated_at {timestamp} NOT NULL,
    PRIMARY KEY (id),
    UNIQUE (header_key)
)"""

# (table, column, type and default): the same text on both databases.
NEW_COLUMNS = (
    ("request_log", "uncached_input_pusd", "BIGINT NOT NULL DEFAULT 0"),
    ("request_log", "cached_input_pusd", "BIGINT NOT NULL DEFAULT 0"),
    ("request_log", "cache_write_pusd", "BIGINT NOT NULL DEFAULT 0"),
    ("request_log", "output_pusd", "BIGINT NOT NULL DEFAULT 0"),
    ("request_log", "cache_savings_pusd", "BIGINT NOT NULL DEFAULT 0"),
    ("request_log", "latency_bucket", "INTEGER"),
    ("request_log", "output_bucket", "INTEGER NOT NULL DEFAULT 0"),
    ("upload", "unpriced", "INTEGER NOT NULL DEFAULT 0"),
    ("upload", "scrubbed", "INTEGER NOT NULL DEFAULT 0"),
    ("upload", "updated_at", "TIMESTAMP"),
)


def apply(conn: Connection) -> None:
    """Create `column_mapping` and add each new column that is not there yet."""
    conn.exec_driver_sql(CREATE_COLUMN_MAPPING.format(**TYPES[conn.dialect.name]))
    for table, column, ddl in NEW_COLUMNS:
        existing = {c["name"] for c in inspect(conn).get_columns(table)}
        if column not in existing:
            conn.exec_driver_sql(f'ALTER TABLE {table} ADD COLUMN "{column}" {ddl}')
