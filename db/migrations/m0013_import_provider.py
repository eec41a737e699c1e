"""0013_import_provider: imported usage and billed cost carry their provider.

OpenAI and Anthropic report usage and cost in buckets of the same shape, and a gateway's daily
spend tables (LiteLLM) count the same traffic again. `usage_bucket` gains `provider` and
`source` (which report counted it: `openai-usage`, `anthropic-usage`, `litellm-daily`), and
`billed_cost` gains `provider`; both lead their table's unique key, so rows of two providers
or two reports never meet. Rows stored before this step came from OpenAI's Usage and Costs
APIs (or files of their pages) and are marked so. SQLite cannot change a constraint, so there
each table is rebuilt with its rows and ids.
"""

from __future__ import annotations

from sqlalchemy import Connection

NAME = "0013_import_provider"

USAGE_COLUMNS = (
    "id, start_time, end_time, project_id, user_id, api_key_id, model, batch, service_tier, "
    "requests, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens"
)
COST_COLUMNS = (
    "id, start_time, end_time, project_id, api_key_id, line_item, model, amount_pusd, "
    "amount_usd, currency"
)
USAGE_KEY = (
    "provider, source, start_time, end_time, project_id, user_id, api_key_id, model, batch, "
    "service_tier"
)  # one line in the DDL: SQLite's schema reader finds a constraint's name only then
COST_KEY = "provider, start_time, end_time, project_id, api_key_id, line_item"
SQLITE = (
    f"""CREATE TABLE usage_bucket_new (
        id INTEGER NOT NULL,
        provider VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        start_time DATETIME NOT NULL,
        end_time DATETIME NOT NULL,
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
        CONSTRAINT uq_usage_bucket UNIQUE ({USAGE_KEY})
    )""",
    f"INSERT INTO usage_bucket_new (provider, source, {USAGE_COLUMNS}) "
    f"SELECT 'openai', 'openai-usage', {USAGE_COLUMNS} FROM usage_bucket",
    "DROP TABLE usage_bucket",
    "ALTER TABLE usage_bucket_new RENAME TO usage_bucket",
    "CREATE INDEX ix_usage_bucket_start_time ON usage_bucket (start_time)",
    f"""CREATE TABLE billed_cost_new (
        id INTEGER NOT NULL,
        provider VARCHAR NOT NULL,
        start_time DATETIME NOT NULL,
        end_time DATETIME NOT NULL,
        project_id VARCHAR NOT NULL,
        api_key_id VARCHAR NOT NULL,
        line_item VARCHAR NOT NULL,
        model VARCHAR NOT NULL,
        amount_pusd BIGINT DEFAULT '0' NOT NULL,
        amount_usd NUMERIC(30, 12) NOT NULL,
        currency VARCHAR NOT NULL,
        PRIMARY KEY (id),
        CONSTRAINT uq_billed_cost UNIQUE ({COST_KEY})
    )""",
    f"INSERT INTO billed_cost_new (provider, {COST_COLUMNS}) "
    f"SELECT 'openai', {COST_COLUMNS} FROM billed_cost",
    "DROP TABLE billed_cost",
    "ALTER TABLE billed_cost_new RENAME TO billed_cost",
    "CREATE INDEX ix_billed_cost_start_time ON billed_cost (start_time)",
)
POSTGRESQL = (
    "ALTER TABLE usage_bucket ADD COLUMN provider VARCHAR NOT NULL DEFAULT 'openai'",
    "ALTER TABLE usage_bucket ADD COLUMN source VARCHAR NOT NULL DEFAULT 'openai-usage'",
    "ALTER TABLE usage_bucket ALTER COLUMN provider DROP DEFAULT",
    "ALTER TABLE usage_bucket ALTER COLUMN source DROP DEFAULT",
    "ALTER TABLE usage_bucket DROP CONSTRAINT uq_usage_bucket",
    f"ALTER TABLE usage_bucket ADD CONSTRAINT uq_usage_bucket UNIQUE ({USAGE_KEY})",
    "ALTER TABLE billed_cost ADD COLUMN provider VARCHAR NOT NULL DEFAULT 'openai'",
    "ALTER TABLE billed_cost ALTER COLUMN provider DROP DEFAULT",
    "ALTER TABLE billed_cost DROP CONSTRAINT uq_billed_cost",
    f"ALTER TABLE billed_cost ADD CONSTRAINT uq_billed_cost UNIQUE ({COST_KEY})",
)


def apply(conn: Connection) -> None:
    """Add `provider` (and the usage `source`) to both import tables and their unique keys."""
    for statement in SQLITE if conn.dialect.name == "sqlite" else POSTGRESQL:
        conn.exec_driver_sql(statement)
