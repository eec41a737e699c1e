"""0001_foundation: uploads, request logs and custom prices, as first released."""

from __future__ import annotations

from sqlalchemy import Connection

NAME = "0001_foundation"

# The only spellings that differ between the two databases.
TYPES = {
    "sqlite": {"serial": "INTEGER", "timestamp": "DATETIME"},
    "postgresql": {"serial": "SERIAL", "timestamp": "TIMESTAMP WITH TIME ZONE"},
}

STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS upload (
        file_name VARCHAR NOT NULL,
        sha256 VARCHAR NOT NULL,
        format VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        size_bytes BIGINT DEFAULT '0' NOT NULL,
        accepted INTEGER NOT NULL,
        duplicates INTEGER NOT NULL,
        conflicts INTEGER NOT NULL,
        rejected INTEGER NOT NULL,
        cost_pusd BIGINT DEFAULT '0' NOT NULL,
        created_at {timestamp} NOT NULL,
        id {serial} NOT NULL,
        PRIMARY KEY (id)
    )""",
    "CREATE INDEX IF NOT EXISTS ix_upload_sha256 ON upload (sha256)",
    """CREATE TABLE IF NOT EXISTS request_log (
        ts {timestamp} NOT NULL,
        day DATE NOT NULL,
        source VARCHAR NOT NULL,
        request_id VARCHAR NOT NULL,
        provider VARCHAR NOT NULL,
        model VARCHAR NOT NULL,
        project VARCHAR NOT NULL,
        feature VARCHAR NOT NULL,
        "user" VARCHAR NOT NULL,
        input_tokens BIGINT DEFAULT '0' NOT NULL,
        cached_input_tokens BIGINT DEFAULT '0' NOT NULL,
        cache_write_tokens BIGINT DEFAULT '0' NOT NULL,
        output_tokens BIGINT DEFAULT '0' NOT NULL,
        reasoning_tokens BIGINT DEFAULT '0' NOT NULL,
        latency_ms INTEGER,
        status INTEGER NOT NULL,
        error_type VARCHAR NOT NULL,
        finish_reason VARCHAR NOT NULL,
        max_tokens INTEGER,
        batch BOOLEAN NOT NULL,
        service_tier VARCHAR NOT NULL,
        priced BOOLEAN NOT NULL,
        cost_pusd BIGINT DEFAULT '0' NOT NULL,
        price_version VARCHAR NOT NULL,
        content_hash VARCHAR NOT NULL,
        upload_id INTEGER,
        id {serial} NOT NULL,
        PRIMARY KEY (id),
        CONSTRAINT uq_request_log_source_request UNIQUE (source, request_id),
        FOREIGN KEY (upload_id) REFERENCES upload (id) ON DELETE CASCADE
    )""",
    "CREATE INDEX IF NOT EXISTS ix_request_log_day_model ON request_log (day, model)",
    "CREATE INDEX IF NOT EXISTS ix_request_log_ts ON request_log (ts)",
    "CREATE INDEX IF NOT EXISTS ix_request_log_upload ON request_log (upload_id)",
    """CREATE TABLE IF NOT EXISTS price_override (
        provider VARCHAR NOT NULL,
        model VARCHAR NOT NULL,
        effective_from DATE NOT NULL,
        input_mtok NUMERIC(18, 6) NOT NULL,
        output_mtok NUMERIC(18, 6) NOT NULL,
        cached_input_mtok NUMERIC(18, 6),
        cache_write_mtok NUMERIC(18, 6),
        batch_input_mtok NUMERIC(18, 6),
        batch_output_mtok NUMERIC(18, 6),
        context_window INTEGER,
        note VARCHAR NOT NULL,
        id {serial} NOT NULL,
        PRIMARY KEY (id),
        CONSTRAINT uq_price_override UNIQUE (model, effective_from)
    )""",
    "CREATE INDEX IF NOT EXISTS ix_price_override_model ON price_override (model)",
)


def apply(conn: Connection) -> None:
    """Create the three tables and their indexes."""
    types = TYPES[conn.dialect.name]
    for statement in STATEMENTS:
        conn.exec_driver_sql(statement.format(**types))
