"""0014_routing_rollup: the routing simulator's rollup, and where the kept request rows start.

`routing_rollup` holds, per day, canonical model, project, feature, status, batch and
input/output token-size bucket, the request count, token sums, cost and the smallest and
largest prompt and answer; the routing simulator reads it instead of grouping `request_log`.
Its buckets index fixed grids (written out below; a bucket holds lo < tokens <= edge). It is
clustered on its key (WITHOUT ROWID on SQLite) and filled from the stored rows.

`retention` has one row once request rows were pruned: `kept_from`, the first day whose rows
are all kept (earlier days live on in the rollups only).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

NAME = "0014_routing_rollup"

INPUT_GRID = (
    0, 99, 100, 199, 200, 255, 256, 499, 500, 511, 512, 999, 1000, 1023, 1024, 1499, 1500, 1999,
    2000, 2047, 2048, 2999, 3000, 3999, 4000, 4095, 4096, 4999, 5000, 7999, 8000, 8191, 8192,
    9999, 10000, 15999, 16000, 16383, 16384, 16385, 19999, 20000, 31999, 32000, 32767, 32768,
    49999, 50000, 63999, 64000, 65535, 65536, 99999, 100000, 127999, 128000, 131071, 131072,
    199999, 200000, 255999, 256000, 262143, 262144, 271999, 272000, 399999, 400000, 499999,
    500000, 524287, 524288, 999999, 1000000, 1048575, 1048576, 1049999, 1050000, 1999999,
    2000000, 2097151, 2097152,
)  # fmt: skip
OUTPUT_GRID = (
    0, 49, 50, 99, 100, 199, 200, 249, 250, 499, 500, 999, 1000, 1023, 1024, 1999, 2000, 2047,
    2048, 3999, 4000, 4095, 4096, 7999, 8000, 8191, 8192, 15999, 16000, 16383, 16384, 31999,
    32000, 32767, 32768, 63999, 64000, 65535, 65536, 99999, 100000, 127999, 128000,
)  # fmt: skip

WITHOUT_ROWID = {"sqlite": " WITHOUT ROWID", "postgresql": ""}
SUMS = (
    "requests",
    "unpriced_requests",
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cost_pusd",
)
ROUTING = """CREATE TABLE routing_rollup (
    day DATE NOT NULL,
    model_id VARCHAR NOT NULL,
    project VARCHAR NOT NULL,
    feature VARCHAR NOT NULL,
    status INTEGER NOT NULL,
    batch BOOLEAN NOT NULL,
    in_bucket INTEGER NOT NULL,
    out_bucket INTEGER NOT NULL,
    {sums},
    in_min BIGINT NOT NULL,
    in_max BIGINT NOT NULL,
    out_min BIGINT NOT NULL,
    out_max BIGINT NOT NULL,
    PRIMARY KEY (day, model_id, project, feature, status, batch, in_bucket, out_bucket)
){without_rowid}"""
RETENTION = """CREATE TABLE retention (
    id INTEGER NOT NULL,
    kept_from DATE NOT NULL,
    PRIMARY KEY (id)
)"""
FILL = (
    "INSERT INTO routing_rollup (day, model_id, project, feature, status, batch, in_bucket, "
    f"out_bucket, {', '.join(SUMS)}, in_min, in_max, out_min, out_max) "
    "SELECT day, model_id, project, feature, status, batch, {in_bucket}, {out_bucket}, "
    "count(*), sum(CASE WHEN NOT priced THEN 1 ELSE 0 END), sum(input_tokens), "
    "sum(cached_input_tokens), sum(cache_write_tokens), sum(output_tokens), "
    "sum(reasoning_tokens), sum(cost_pusd), min(input_tokens), max(input_tokens), "
    "min(output_tokens), max(output_tokens) FROM request_log "
    "GROUP BY day, model_id, project, feature, status, batch, {in_bucket}, {out_bucket}"
)


def bucket_sql(column: str, grid: Sequence[int], first: int = 0) -> str:
    """The bucket of `column` on `grid` (edges below it) as a balanced CASE tree."""
    if not grid:
        return str(first)
    middle = len(grid) // 2
    low = bucket_sql(column, grid[:middle], first)
    high = bucket_sql(column, grid[middle + 1 :], first + middle + 1)
    return f"(CASE WHEN {column} <= {grid[middle]} THEN {low} ELSE {high} END)"


def apply(conn: Connection) -> None:
    """Create the routing rollup and the retention row's table; fill the rollup from the rows."""
    dialect = conn.dialect.name
    sums = ",\n    ".join(f"{name} BIGINT DEFAULT '0' NOT NULL" for name in SUMS)
    conn.exec_driver_sql(ROUTING.format(sums=sums, without_rowid=WITHOUT_ROWID[dialect]))
    conn.exec_driver_sql(RETENTION)
    buckets = {
        "in_bucket": bucket_sql("input_tokens", INPUT_GRID),
        "out_bucket": bucket_sql("output_tokens", OUTPUT_GRID),
    }
    conn.exec_driver_sql(FILL.format(**buckets))
