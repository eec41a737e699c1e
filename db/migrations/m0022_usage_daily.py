"""0022_usage_daily: the Usage page's own rollup, and the tag sets found by an index.

`usage_daily` holds the daily rollup summed over feature and tag set: per day, provider,
canonical model, logged model, project, batch, status, key label, team and environment, the
same sums as `daily_rollup`. Feature and tag set multiply the daily rollup's rows (~10x on a
realistic log), and the Usage page's totals, series and model table group by neither. It is
clustered on its key (WITHOUT ROWID on SQLite) and filled from the daily rollup, so days whose
rows were pruned keep their figures.

`ix_daily_rollup_tags` indexes the daily rollup's rows that carry tags (a partial index, so
untagged rows cost nothing): the filters' tag list is read from it without a scan.
"""

from __future__ import annotations

from sqlalchemy import Connection

NAME = "0022_usage_daily"

KEY = (
    "day", "provider", "model_id", "model", "project", "batch", "status",
    "key_label", "team", "environment",
)  # fmt: skip
SUMS = (
    "requests", "unpriced_requests", "input_tokens", "cached_input_tokens",
    "cache_write_tokens", "output_tokens", "reasoning_tokens", "cost_pusd",
    "uncached_input_pusd", "cached_input_pusd", "cache_write_pusd", "output_pusd",
    "cache_savings_pusd", "truncated", "with_max_tokens", "latency_count", "latency_sum_ms",
)  # fmt: skip
TABLE = """CREATE TABLE usage_daily (
    day DATE NOT NULL,
    provider VARCHAR NOT NULL,
    model_id VARCHAR NOT NULL,
    model VARCHAR NOT NULL,
    project VARCHAR NOT NULL,
    batch BOOLEAN NOT NULL,
    status INTEGER NOT NULL,
    key_label VARCHAR DEFAULT '' NOT NULL,
    team VARCHAR DEFAULT '' NOT NULL,
    environment VARCHAR DEFAULT '' NOT NULL,
    {sums},
    PRIMARY KEY ({key})
){without_rowid}"""
WITHOUT_ROWID = {"sqlite": " WITHOUT ROWID", "postgresql": ""}
FILL = "INSERT INTO usage_daily ({key}, {sums}) SELECT {key}, {totals} FROM daily_rollup GROUP BY {key}"
TAGS_INDEX = "CREATE INDEX ix_daily_rollup_tags ON daily_rollup (tags) WHERE tags <> ''"


def apply(conn: Connection) -> None:
    """Create the usage rollup, fill it from the daily rollup; index the tagged rows."""
    sums = ",\n    ".join(f"{name} BIGINT DEFAULT '0' NOT NULL" for name in SUMS)
    key = ", ".join(KEY)
    without_rowid = WITHOUT_ROWID[conn.dialect.name]
    conn.exec_driver_sql(TABLE.format(sums=sums, key=key, without_rowid=without_rowid))
    totals = ", ".join(f"sum({name})" for name in SUMS)
    conn.exec_driver_sql(FILL.format(key=key, sums=", ".join(SUMS), totals=totals))
    conn.exec_driver_sql(TAGS_INDEX)
