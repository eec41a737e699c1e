"""0023_small_rollups: the Usage page's default view reads rollups many times smaller.

- `model_daily`: the daily rollup summed over everything but day, provider, canonical model,
  logged model, batch and status; the page's totals, series and model table read it when no
  project, key label, team, environment or tag is filtered.
- `feature_daily`: the daily rollup summed per project, feature and day, clustered in that
  order: spend per feature over a period is read in key order, without a sort.
- `output_daily`: output-token counts per day, canonical model and bucket, as `latency_daily`
  is for latency; the max_tokens audit reads only the period's days of it.
- `retry_daily`: the cost of failure per day, provider, canonical model, project and batch:
  spend on failed calls (status 400 or above) and the retry estimate, computed per day,
  provider, model, project, feature and batch group and summed over features. The estimate
  is not a sum of requests, so it is computed again for the days each ingest touches.

Each is clustered on its key (WITHOUT ROWID on SQLite) and filled from what the database
holds, so days whose rows were pruned keep their figures.
"""

from __future__ import annotations

from sqlalchemy import Connection

NAME = "0023_small_rollups"

SUMS = (
    "requests", "unpriced_requests", "input_tokens", "cached_input_tokens",
    "cache_write_tokens", "output_tokens", "reasoning_tokens", "cost_pusd",
    "uncached_input_pusd", "cached_input_pusd", "cache_write_pusd", "output_pusd",
    "cache_savings_pusd", "truncated", "with_max_tokens", "latency_count", "latency_sum_ms",
)  # fmt: skip
MODEL_KEY = ("day", "provider", "model_id", "model", "batch", "status")
MODEL_DAILY = """CREATE TABLE model_daily (
    day DATE NOT NULL,
    provider VARCHAR NOT NULL,
    model_id VARCHAR NOT NULL,
    model VARCHAR NOT NULL,
    batch BOOLEAN NOT NULL,
    status INTEGER NOT NULL,
    {sums},
    PRIMARY KEY ({key})
){without_rowid}"""
FEATURE_KEY = ("project", "feature", "day")
FEATURE_DAILY = """CREATE TABLE feature_daily (
    project VARCHAR NOT NULL,
    feature VARCHAR NOT NULL,
    day DATE NOT NULL,
    {sums},
    PRIMARY KEY ({key})
){without_rowid}"""
OUTPUT_DAILY = """CREATE TABLE output_daily (
    day DATE NOT NULL,
    model_id VARCHAR NOT NULL,
    bucket INTEGER NOT NULL,
    count BIGINT DEFAULT '0' NOT NULL,
    PRIMARY KEY (day, model_id, bucket)
){without_rowid}"""
RETRY_DAILY = """CREATE TABLE retry_daily (
    day DATE NOT NULL,
    provider VARCHAR NOT NULL,
    model_id VARCHAR NOT NULL,
    project VARCHAR NOT NULL,
    batch BOOLEAN NOT NULL,
    failed_pusd BIGINT DEFAULT '0' NOT NULL,
    retries BIGINT DEFAULT '0' NOT NULL,
    retry_pusd BIGINT DEFAULT '0' NOT NULL,
    PRIMARY KEY (day, provider, model_id, project, batch)
){without_rowid}"""
WITHOUT_ROWID = {"sqlite": " WITHOUT ROWID", "postgresql": ""}
FILL_MODELS = (
    "INSERT INTO model_daily ({key}, {sums}) SELECT {key}, {totals} FROM usage_daily GROUP BY {key}"
)
FILL_FEATURES = (
    "INSERT INTO feature_daily ({key}, {sums}) "
    "SELECT {key}, {totals} FROM daily_rollup GROUP BY {key}"
)
FILL_OUTPUT = (
    "INSERT INTO output_daily (day, model_id, bucket, count) "
    "SELECT day, model_id, bucket, sum(count) FROM output_histogram GROUP BY day, model_id, bucket"
)
# Per group: retries = min(429 and 5xx calls, successful calls), each priced at the group's
# average successful call (integer division: the sums are cast to BIGINT, which PostgreSQL's
# sum(bigint) is not); failed spend = cost of calls with status >= 400.
FILL_RETRIES = """INSERT INTO retry_daily
    (day, provider, model_id, project, batch, failed_pusd, retries, retry_pusd)
SELECT day, provider, model_id, project, batch, sum(failed_pusd),
    sum(CASE WHEN retryable < ok_requests THEN retryable ELSE ok_requests END),
    sum((CASE WHEN retryable < ok_requests THEN retryable ELSE ok_requests END)
        * (CASE WHEN ok_requests > 0 THEN ok_pusd / ok_requests ELSE 0 END))
FROM (
    SELECT day, provider, model_id, project, batch,
        CAST(sum(CASE WHEN status >= 400 THEN cost_pusd ELSE 0 END) AS BIGINT) AS failed_pusd,
        CAST(sum(CASE WHEN status = 429 OR status >= 500 THEN requests ELSE 0 END) AS BIGINT) AS retryable,
        CAST(sum(CASE WHEN status < 400 THEN requests ELSE 0 END) AS BIGINT) AS ok_requests,
        CAST(sum(CASE WHEN status < 400 THEN cost_pusd ELSE 0 END) AS BIGINT) AS ok_pusd
    FROM daily_rollup
    GROUP BY day, provider, model_id, project, feature, batch
) AS groups
GROUP BY day, provider, model_id, project, batch"""


def apply(conn: Connection) -> None:
    """Create the four rollups and fill them from the rollups the database holds."""
    without_rowid = WITHOUT_ROWID[conn.dialect.name]
    sums = ",\n    ".join(f"{name} BIGINT DEFAULT '0' NOT NULL" for name in SUMS)
    key = ", ".join(MODEL_KEY)
    conn.exec_driver_sql(MODEL_DAILY.format(sums=sums, key=key, without_rowid=without_rowid))
    features = ", ".join(FEATURE_KEY)
    conn.exec_driver_sql(FEATURE_DAILY.format(sums=sums, key=features, without_rowid=without_rowid))
    conn.exec_driver_sql(OUTPUT_DAILY.format(without_rowid=without_rowid))
    conn.exec_driver_sql(RETRY_DAILY.format(without_rowid=without_rowid))
    totals = ", ".join(f"sum({name})" for name in SUMS)
    conn.exec_driver_sql(FILL_MODELS.format(key=key, sums=", ".join(SUMS), totals=totals))
    conn.exec_driver_sql(FILL_FEATURES.format(key=features, sums=", ".join(SUMS), totals=totals))
    conn.exec_driver_sql(FILL_OUTPUT)
    conn.exec_driver_sql(FILL_RETRIES)
