"""0004_openai_imports: OpenAI Usage API buckets and Costs API amounts."""

from __future__ import annotations

from sqlalchemy import Connection

NAME = "0004_openai_imports"

TYPES = {
    "sqlite": {"serial": "INTEGER", "timestamp": "DATETIME"},
    "postgresql": {"serial": "SERIAL", "timestamp": "TIMESTAMP WITH TIME ZONE"},
}

STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS usage_bucket (
        id {serial} NOT NULL,
        start_time {timestamp} NOT NULL,
        end_time {timestamp} NOT NULL,
        project_id VARCHAR NOT NULL,
        user_id VARCHAR NOT NULL,
        api_key_id VARCHAR NOT NULL,
        model VARCHAR NOT NULL,
        batch BOOLEAN NOT NULL,
        service_tier VARCHAR NOT NULL,
        requests BIGINT DEFAULT '0' NOT NULL,
        input_tokens BIGINT DEFAULT '0' NOT NULL,
        cached_input_tokens BIGINT DEFAULT '0' NOT NULL,
        cache_write_tokens BIGINT DEFAULT '0' NOT NULL,
        output_tokens BIGINT DEFAULT '0' NOT NULL,
        PRIMARY KEY (id),
        CONSTRAINT uq_usage_bucket
          UNIQUE (start_time, end_time, project_id, user_id, api_key_id, model, batch, service_tier)
    )""",
    "CREATE INDEX IF NOT EXISTS ix_usage_bucket_start_time ON usage_bucket (start_time)",
    """CREATE TABLE IF NOT EXISTS billed_cost (
        id {serial} NOT NULL,
        start_time {timestamp} NOT NULL,
        end_time {timestamp} NOT NULL,
        project_id VARCHAR NOT NULL,
        api_key_id VARCHAR NOT NULL,
        line_item VARCHAR NOT NULL,
        model VARCHAR NOT NULL,
        amount_pusd BIGINT DEFAULT '0' NOT NULL,
        amount_usd NUMERIC(30, 12) NOT NULL,
        currency VARCHAR NOT NULL,
        PRIMARY KEY (id),
        CONSTRAINT uq_billed_cost
            UNIQUE (start_time, end_time, project_id, api_key_id, line_item)
    )""",
    "CREATE INDEX IF NOT EXISTS ix_billed_cost_start_time ON billed_cost (start_time)",
)


def apply(conn: Connection) -> None:
    """Create `usage_bucket` and `billed_cost` with their indexes."""
    types = TYPES[conn.dialect.name]
    for statement in STATEMENTS:
        conn.exec_driver_sql(statement.format(**types))
