"""0019_dimensions: who spent it beyond project, feature and user: key label, team, environment
and tags.

`request_log` gains `key_label` (the API key's label, never the key), `team`, `environment`
and `tags` (the record's tags normalised: distinct, sorted, joined by commas; "" for none).
The daily rollup is keyed by those four as well, so every page and budget can filter and
group by them from the rollup; its primary key changes, so on SQLite the table is copied into
a new one (a primary key cannot be altered there) and on PostgreSQL the key is replaced.
Existing rows and rollups hold "" in the new columns (they were stored without them).

`user_rollup` holds, per day, the top users by cost (at most 100, the rest summed under the
user "\\x1fother") with request counts, token sums and cost. It is filled from the stored rows;
days whose rows were pruned have none.
"""

from __future__ import annotations

from sqlalchemy import Connection

NAME = "0019_dimensions"

TOP_USERS = 100
OTHER_USERS = "\x1fother"
NEW_COLUMNS = ("key_label", "team", "environment", "tags")
SUMS = (
    "requests",
    "unpriced_requests",
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cost_pusd",
    "uncached_input_pusd",
    "cached_input_pusd",
    "cache_write_pusd",
    "output_pusd",
    "cache_savings_pusd",
    "truncated",
    "with_max_tokens",
    "latency_count",
    "latency_sum_ms",
)
OLD_KEY = ("day", "provider", "model_id", "model", "project", "feature", "batch", "status")
NEW_KEY = (*OLD_KEY, *NEW_COLUMNS)
ROLLUP_SQLITE = """CREATE TABLE daily_rollup_0019 (
    day DATE NOT NULL,
    provider VARCHAR NOT NULL,
    model_id VARCHAR NOT NULL,
    model VARCHAR NOT NULL,
    project VARCHAR NOT NULL,
    feature VARCHAR NOT NULL,
    batch BOOLEAN NOT NULL,
    status INTEGER NOT NULL,
    key_label VARCHAR NOT NULL,
    team VARCHAR NOT NULL,
    environment VARCHAR NOT NULL,
    tags VARCHAR NOT NULL,
    {sums},
    PRIMARY KEY ({key})
) WITHOUT ROWID"""
USER_SUMS = (
    "requests",
    "unpriced_requests",
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "cost_pusd",
)
USER_ROLLUP = """CREATE TABLE user_rollup (
    day DATE NOT NULL,
    "user" VARCHAR NOT NULL,
    {sums},
    PRIMARY KEY (day, "user")
){without_rowid}"""
WITHOUT_ROWID = {"sqlite": " WITHOUT ROWID", "postgresql": ""}
FILL_USERS = (
    'INSERT INTO user_rollup (day, "user", requests, unpriced_requests, input_tokens, '
    "cached_input_tokens, output_tokens, cost_pusd) "
    "SELECT day, CASE WHEN rank <= {top} OR u = '' THEN u ELSE '{other}' END, sum(requests), "
    "sum(unpriced_requests), sum(input_tokens), sum(cached_input_tokens), sum(output_tokens), "
    "sum(cost_pusd) FROM (SELECT day, u, requests, unpriced_requests, input_tokens, "
    "cached_input_tokens, output_tokens, cost_pusd, row_number() OVER (PARTITION BY day "
    "ORDER BY CASE WHEN u = '' THEN 1 ELSE 0 END, cost_pusd DESC, u) AS rank FROM (SELECT day, "
    '"user" AS u, count(*) AS requests, sum(CASE WHEN priced THEN 0 ELSE 1 END) AS '
    "unpriced_requests, sum(input_tokens) AS input_tokens, sum(cached_input_tokens) AS "
    "cached_input_tokens, sum(output_tokens) AS output_tokens, sum(cost_pusd) AS cost_pusd "
    'FROM request_log GROUP BY day, "user") per_user) ranked '
    "GROUP BY day, CASE WHEN rank <= {top} OR u = '' THEN u ELSE '{other}' END"
)


def _sums(names: tuple[str, ...]) -> str:
    return ",\n    ".join(f"{name} BIGINT DEFAULT '0' NOT NULL" for name in names)


def _rollup_sqlite(conn: Connection) -> None:
    """Copy the daily rollup into a table keyed by the new columns too, then swap them."""
    conn.exec_driver_sql(ROLLUP_SQLITE.format(sums=_sums(SUMS), key=", ".join(NEW_KEY)))
    columns = ", ".join((*OLD_KEY, *SUMS))
    conn.exec_driver_sql(
        f"INSERT INTO daily_rollup_0019 ({columns}, key_label, team, environment, tags) "
        f"SELECT {columns}, '', '', '', '' FROM daily_rollup"
    )
    conn.exec_driver_sql("DROP TABLE daily_rollup")
    conn.exec_driver_sql("ALTER TABLE daily_rollup_0019 RENAME TO daily_rollup")


def _rollup_postgresql(conn: Connection) -> None:
    """Add the new key columns and replace the primary key."""
    for column in NEW_COLUMNS:
        conn.exec_driver_sql(
            f"ALTER TABLE daily_rollup ADD COLUMN {column} VARCHAR DEFAULT '' NOT NULL"
        )
    conn.exec_driver_sql("ALTER TABLE daily_rollup DROP CONSTRAINT daily_rollup_pkey")
    conn.exec_driver_sql(
        f"ALTER TABLE daily_rollup ADD CONSTRAINT daily_rollup_pkey PRIMARY KEY "
        f"({', '.join(NEW_KEY)})"
    )


def apply(conn: Connection) -> None:
    """Add the four columns to the rows and the rollup key; create and fill the user rollup."""
    dialect = conn.dialect.name
    for column in NEW_COLUMNS:
        conn.exec_driver_sql(
            f"ALTER TABLE request_log ADD COLUMN {column} VARCHAR DEFAULT '' NOT NULL"
        )
    (_rollup_sqlite if dialect == "sqlite" else _rollup_postgresql)(conn)
    conn.exec_driver_sql(
        USER_ROLLUP.format(sums=_sums(USER_SUMS), without_rowid=WITHOUT_ROWID[dialect])
    )
    conn.exec_driver_sql(FILL_USERS.format(top=TOP_USERS, other=OTHER_USERS))
