"""0023_small_rollups: the Usage page's default view reads rollups many times smaller.

- `model_daily`: the daily rollup summed over everything but day, provider, canonical model,
  logged model, batch and status; the page's totals, series and model table read it when no
  project, key label, team, environment or tag is filtered.
- `feature_daily`: the daily rollup summed per project, feature and day, clustered in that
  order: spend per feature over a period is read in key order, without a sort.
- `output_daily`: output-token counts per day, canonical model and bucket, as `latency_daily`
  is for latency; the max_tokens audit reads only the period's days of it.
- `latency_quantiles`: P50 and P95 latency per day and canonical model, computed from
  `latency_daily` (~10 % buckets, interpolated inside the bucket); the latency chart of the
  unfiltered view reads one row per day and model instead of one per bucket.
- `retry_daily`: the cost of failure per day, provider, canonical model, project and batch:
  spend on failed calls (status 400 or above) and the retry estimate, computed per day,
  provider, model, project, feature and batch group and summed over features. Neither the
  estimate nor a percentile is a sum, so both are computed again for the days an ingest
  touches.

Each is clustered on its key (WITHOUT ROWID on SQLite) and filled from what the database
holds, so days whose rows were pruned keep their figures.
"""

from __future__ import annotations

from itertools import groupby

from sqlalchemy import Connection, text

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
LATENCY_QUANTILES = """CREATE TABLE latency_quantiles (
    day DATE NOT NULL,
    model_id VARCHAR NOT NULL,
    requests BIGINT DEFAULT '0' NOT NULL,
    p50_ms {double} NOT NULL,
    p95_ms {double} NOT NULL,
    PRIMARY KEY (day, model_id)
){without_rowid}"""
WITHOUT_ROWID = {"sqlite": " WITHOUT ROWID", "postgresql": ""}
DOUBLE = {"sqlite": "DOUBLE", "postgresql": "DOUBLE PRECISION"}
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


def _latency_edges() -> list[float]:
    """The latency histogram's bucket edges in ms: 0, then 10 growing by 10 % to 600,000."""
    edges = [0.0, 10.0]
    while edges[-1] < 600_000.0:
        edges.append(edges[-1] * 1.1)
    return edges


def _percentile(counts: list[float], edges: list[float], q: float) -> float:
    """The q-quantile of bucket counts, interpolated inside its bucket."""
    target = q * sum(counts)
    cumulative, running = [], 0.0
    for n in counts:
        running += n
        cumulative.append(running)
    i = min(
        next((k for k, c in enumerate(cumulative) if c >= target), len(counts)), len(counts) - 1
    )
    before = cumulative[i - 1] if i > 0 else 0.0
    high = edges[i + 1] if i + 1 < len(edges) else edges[i]
    inside = (target - before) / counts[i] if counts[i] else 0.0
    return float(edges[i] + (high - edges[i]) * inside)


def _fill_latency(conn: Connection) -> None:
    """One row per day and model of `latency_daily`: its timed calls, P50 and P95."""
    edges = _latency_edges()
    rows = conn.execute(
        text("SELECT day, model_id, bucket, count FROM latency_daily ORDER BY day, model_id")
    ).all()
    out = []
    for (day, model_id), group in groupby(rows, key=lambda r: (r[0], r[1])):
        counts = [0.0] * len(edges)
        for _, _, bucket, count in group:
            counts[int(bucket)] += float(count)
        if sum(counts) > 0:
            p50, p95 = (_percentile(counts, edges, q) for q in (0.50, 0.95))
            out.append({"d": day, "m": model_id, "n": int(sum(counts)), "p50": p50, "p95": p95})
    if out:
        conn.execute(
            text(
                "INSERT INTO latency_quantiles (day, model_id, requests, p50_ms, p95_ms) "
                "VALUES (:d, :m, :n, :p50, :p95)"
            ),
            out,
        )


def apply(conn: Connection) -> None:
    """Create the five rollups and fill them from the rollups the database holds."""
    without_rowid = WITHOUT_ROWID[conn.dialect.name]
    sums = ",\n    ".join(f"{name} BIGINT DEFAULT '0' NOT NULL" for name in SUMS)
    key = ", ".join(MODEL_KEY)
    conn.exec_driver_sql(MODEL_DAILY.format(sums=sums, key=key, without_rowid=without_rowid))
    features = ", ".join(FEATURE_KEY)
    conn.exec_driver_sql(FEATURE_DAILY.format(sums=sums, key=features, without_rowid=without_rowid))
    conn.exec_driver_sql(OUTPUT_DAILY.format(without_rowid=without_rowid))
    conn.exec_driver_sql(RETRY_DAILY.format(without_rowid=without_rowid))
    double = DOUBLE[conn.dialect.name]
    conn.exec_driver_sql(LATENCY_QUANTILES.format(without_rowid=without_rowid, double=double))
    totals = ", ".join(f"sum({name})" for name in SUMS)
    conn.exec_driver_sql(FILL_MODELS.format(key=key, sums=", ".join(SUMS), totals=totals))
    conn.exec_driver_sql(FILL_FEATURES.format(key=features, sums=", ".join(SUMS), totals=totals))
    conn.exec_driver_sql(FILL_OUTPUT)
    conn.exec_driver_sql(FILL_RETRIES)
    _fill_latency(conn)
