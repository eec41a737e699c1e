"""0002_rollups: daily rollups and the first, wide latency/output histograms.

`latency_bucket` and `output_bucket` are replaced by narrower tables in 0007, which moves
their counts and drops them.
"""

from __future__ import annotations

from sqlalchemy import Connection

NAME = "0002_rollups"

TYPES = {"sqlite": {"serial": "INTEGER"}, "postgresql": {"serial": "SERIAL"}}

STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS daily_rollup (
        day DATE NOT NULL,
        provider VARCHAR NOT NULL,
        model VARCHAR NOT NULL,
        project VARCHAR NOT NULL,
        feature VARCHAR NOT NULL,
        batch BOOLEAN NOT NULL,
        status INTEGER NOT NULL,
        requests BIGINT DEFAULT '0' NOT NULL,
        unpriced_requests BIGINT DEFAULT '0' NOT NULL,
        input_tokens BIGINT DEFAULT '0' NOT NULL,
        cached_input_tokens BIGINT DEFAULT '0' NOT NULL,
        cache_write_tokens BIGINT DEFAULT '0' NOT NULL,
        output_tokens BIGINT DEFAULT '0' NOT NULL,
        reasoning_tokens BIGINT DEFAULT '0' NOT NULL,
        cost_pusd BIGINT DEFAULT '0' NOT NULL,
        uncached_input_pusd BIGINT DEFAULT '0' NOT NULL,
        cached_input_pusd BIGINT DEFAULT '0' NOT NULL,
        cache_write_pusd BIGINT DEFAULT '0' NOT NULL,
        output_pusd BIGINT DEFAULT '0' NOT NULL,
        cache_savings_pusd BIGINT DEFAULT '0' NOT NULL,
        truncated BIGINT DEFAULT '0' NOT NULL,
        with_max_tokens BIGINT DEFAULT '0' NOT NULL,
        latency_count BIGINT DEFAULT '0' NOT NULL,
        latency_sum_ms BIGINT DEFAULT '0' NOT NULL,
        id {serial} NOT NULL,
        PRIMARY KEY (id),
        CONSTRAINT uq_daily_rollup UNIQUE (day, provider, model, project, feature, batch, status)
    )""",
    """CREATE TABLE IF NOT EXISTS latency_bucket (
        day DATE NOT NULL,
        provider VARCHAR NOT NULL,
        model VARCHAR NOT NULL,
        project VARCHAR NOT NULL,
        feature VARCHAR NOT NULL,
        batch BOOLEAN NOT NULL,
        status INTEGER NOT NULL,
        bucket INTEGER NOT NULL,
        count BIGINT DEFAULT '0' NOT NULL,
        id {serial} NOT NULL,
        PRIMARY KEY (id),
        CONSTRAINT uq_latency_bucket
            UNIQUE (day, provider, model, project, feature, batch, status, bucket)
    )""",
    """CREATE TABLE IF NOT EXISTS output_bucket (
        day DATE NOT NULL,
        provider VARCHAR NOT NULL,
        model VARCHAR NOT NULL,
        project VARCHAR NOT NULL,
        feature VARCHAR NOT NULL,
        batch BOOLEAN NOT NULL,
        status INTEGER NOT NULL,
        bucket INTEGER NOT NULL,
        count BIGINT DEFAULT '0' NOT NULL,
        id {serial} NOT NULL,
        PRIMARY KEY (id),
        CONSTRAINT uq_output_bucket
            UNIQUE (day, provider, model, project, feature, batch, status, bucket)
    )""",
)


def apply(conn: Connection) -> None:
    """Create the rollup table and the two wide histogram tables."""
    types = TYPES[conn.dialect.name]
    for statement in STATEMENTS:
        conn.exec_driver_sql(statement.format(**types))
