"""0010_model_identity: store the price-book model each logged model name resolves to.

Logs name one model `gpt-4o`, `gpt-4o-2024-08-06` or `openai/gpt-4o`. `request_log` gains
`model_id` (the canonical id, `core.identity`), and rows of a model the price book knows take
the book's provider (a gateway's `gemini` and the book's `google` are one provider). The daily
rollup is keyed by `model_id` as well as the logged name, and clustered on that key (its
primary key; WITHOUT ROWID on SQLite, so an upsert touches one B-tree); the histograms are
keyed by `model_id` only. All four are rebuilt from the stored rows.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Connection, text

from core.identity import identify
from core.pricing import PriceBook, PriceOverride

NAME = "0010_model_identity"

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
ROLLUP = """CREATE TABLE daily_rollup (
    day DATE NOT NULL,
    provider VARCHAR NOT NULL,
    model_id VARCHAR NOT NULL,
    model VARCHAR NOT NULL,
    project VARCHAR NOT NULL,
    feature VARCHAR NOT NULL,
    batch BOOLEAN NOT NULL,
    status INTEGER NOT NULL,
    {sums},
    PRIMARY KEY (day, provider, model_id, model, project, feature, batch, status)
){without_rowid}"""
HISTOGRAMS = (
    """CREATE TABLE latency_histogram (
        day DATE NOT NULL,
        model_id VARCHAR NOT NULL,
        bucket INTEGER NOT NULL,
        project VARCHAR NOT NULL,
        status INTEGER NOT NULL,
        count BIGINT DEFAULT '0' NOT NULL,
        PRIMARY KEY (day, model_id, bucket, project, status)
    ){without_rowid}""",
    """CREATE TABLE output_histogram (
        model_id VARCHAR NOT NULL,
        bucket INTEGER NOT NULL,
        day DATE NOT NULL,
        project VARCHAR NOT NULL,
        status INTEGER NOT NULL,
        count BIGINT DEFAULT '0' NOT NULL,
        PRIMARY KEY (model_id, bucket, day, project, status)
    ){without_rowid}""",
    """CREATE TABLE latency_daily (
        day DATE NOT NULL,
        model_id VARCHAR NOT NULL,
        bucket INTEGER NOT NULL,
        count BIGINT DEFAULT '0' NOT NULL,
        PRIMARY KEY (day, model_id, bucket)
    ){without_rowid}""",
)
FILL_ROLLUP = (
    "INSERT INTO daily_rollup (day, provider, model_id, model, project, feature, batch, status, "
    f"{', '.join(SUMS)}) "
    "SELECT day, provider, model_id, model, project, feature, batch, status, count(*), "
    "sum(CASE WHEN NOT priced THEN 1 ELSE 0 END), sum(input_tokens), sum(cached_input_tokens), "
    "sum(cache_write_tokens), sum(output_tokens), sum(reasoning_tokens), sum(cost_pusd), "
    "sum(uncached_input_pusd), sum(cached_input_pusd), sum(cache_write_pusd), sum(output_pusd), "
    "sum(cache_savings_pusd), sum(CASE WHEN finish_reason = 'length' THEN 1 ELSE 0 END), "
    "sum(CASE WHEN max_tokens IS NOT NULL THEN 1 ELSE 0 END), count(latency_ms), "
    "coalesce(sum(latency_ms), 0) FROM request_log "
    "GROUP BY day, provider, model_id, model, project, feature, batch, status"
)
FILL_HISTOGRAMS = (
    "INSERT INTO latency_histogram (day, model_id, project, status, bucket, count) "
    "SELECT day, model_id, project, status, latency_bucket, count(*) FROM request_log "
    "WHERE latency_bucket IS NOT NULL GROUP BY day, model_id, project, status, latency_bucket",
    "INSERT INTO latency_daily (day, model_id, bucket, count) "
    "SELECT day, model_id, latency_bucket, count(*) FROM request_log "
    "WHERE latency_bucket IS NOT NULL GROUP BY day, model_id, latency_bucket",
    "INSERT INTO output_histogram (day, model_id, project, status, bucket, count) "
    "SELECT day, model_id, project, status, output_bucket, count(*) FROM request_log "
    "GROUP BY day, model_id, project, status, output_bucket",
)


def _book(conn: Connection) -> PriceBook:
    """The bundled price book with the database's custom prices (names and providers)."""
    rows = conn.execute(
        text("SELECT model, provider, effective_from, input_mtok, output_mtok FROM price_override")
    ).all()
    overrides = [
        PriceOverride(
            model=model,
            provider=provider,
            effective_from=day if isinstance(day, date) else date.fromisoformat(str(day)[:10]),
            input_mtok=Decimal(str(inp)),
            output_mtok=Decimal(str(out)),
        )
        for model, provider, day, inp, out in rows
    ]
    return PriceBook.from_snapshot(overrides)


def _identify_rows(conn: Connection) -> None:
    """Fill `model_id` (and the book's provider) per distinct logged model name."""
    book = _book(conn)
    models = conn.execute(text("SELECT DISTINCT model FROM request_log")).scalars().all()
    for model in models:
        found = identify(book, model)
        params = {"model": model, "model_id": found.model, "provider": found.provider}
        if found.provider:
            conn.execute(
                text(
                    "UPDATE request_log SET model_id = :model_id, provider = :provider "
                    "WHERE model = :model"
                ),
                params,
            )
        else:
            conn.execute(
                text("UPDATE request_log SET model_id = :model_id WHERE model = :model"), params
            )


def apply(conn: Connection) -> None:
    """Add and fill `model_id`, then rebuild the rollup and the histograms keyed by it."""
    dialect = conn.dialect.name
    conn.exec_driver_sql("ALTER TABLE request_log ADD COLUMN model_id VARCHAR DEFAULT '' NOT NULL")
    _identify_rows(conn)
    for table in ("daily_rollup", "latency_histogram", "output_histogram", "latency_daily"):
        conn.exec_driver_sql(f"DROP TABLE {table}")
    sums = ",\n    ".join(f"{name} BIGINT DEFAULT '0' NOT NULL" for name in SUMS)
    conn.exec_driver_sql(ROLLUP.format(sums=sums, without_rowid=WITHOUT_ROWID[dialect]))
    for statement in HISTOGRAMS:
        conn.exec_driver_sql(statement.format(without_rowid=WITHOUT_ROWID[dialect]))
    conn.exec_driver_sql(FILL_ROLLUP)
    for statement in FILL_HISTOGRAMS:
        conn.exec_driver_sql(statement)
