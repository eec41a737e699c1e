"""0011_request_key: the natural key (source, request_id) stored as one 64-bit hash.

A request's key is unique; checking that with an index of long texts (a source and a random
request id of 30+ characters) cost more than the whole rest of storing a row once the table
outgrew the page cache. `key_hash` (`core.fingerprint.key_hashes`) carries the uniqueness in
an index of 8-byte integers; two keys that share a hash (about once in 10**10 pairs among a
million keys) are told apart by the writer, which keeps the second under an alternate slot.
SQLite cannot drop a constraint, so there the table is rebuilt with its rows and ids.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import Connection, text

from core.fingerprint import alternate_key, key_hashes

NAME = "0011_request_key"
BATCH_ROWS = 50_000

COLUMNS = (
    'ts, day, source, request_id, provider, model, model_id, project, feature, "user", '
    "input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, "
    "latency_ms, status, error_type, finish_reason, max_tokens, batch, service_tier, priced, "
    "cost_pusd, uncached_input_pusd, cached_input_pusd, cache_write_pusd, output_pusd, "
    "cache_savings_pusd, latency_bucket, output_bucket, price_version, content_hash, key_hash, "
    "upload_id, id"
)
SQLITE_TABLE = """CREATE TABLE request_log_keyed (
    ts DATETIME NOT NULL,
    day DATE NOT NULL,
    source VARCHAR NOT NULL,
    request_id VARCHAR NOT NULL,
    provider VARCHAR NOT NULL,
    model VARCHAR NOT NULL,
    model_id VARCHAR DEFAULT '' NOT NULL,
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
    uncached_input_pusd BIGINT DEFAULT '0' NOT NULL,
    cached_input_pusd BIGINT DEFAULT '0' NOT NULL,
    cache_write_pusd BIGINT DEFAULT '0' NOT NULL,
    output_pusd BIGINT DEFAULT '0' NOT NULL,
    cache_savings_pusd BIGINT DEFAULT '0' NOT NULL,
    latency_bucket INTEGER,
    output_bucket INTEGER NOT NULL,
    price_version VARCHAR NOT NULL,
    content_hash VARCHAR NOT NULL,
    key_hash BIGINT NOT NULL,
    upload_id INTEGER,
    id INTEGER NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT uq_request_log_key UNIQUE (key_hash),
    FOREIGN KEY(upload_id) REFERENCES upload (id) ON DELETE CASCADE
)"""
SQLITE_SWAP = (
    f"INSERT INTO request_log_keyed ({COLUMNS}) SELECT {COLUMNS} FROM request_log",
    "DROP TABLE request_log",
    "ALTER TABLE request_log_keyed RENAME TO request_log",
    "CREATE INDEX ix_request_log_ts ON request_log (ts)",
    "CREATE INDEX ix_request_log_upload ON request_log (upload_id)",
)
POSTGRESQL_KEY = (
    "ALTER TABLE request_log ALTER COLUMN key_hash SET NOT NULL",
    "ALTER TABLE request_log DROP CONSTRAINT uq_request_log_source_request",
    "ALTER TABLE request_log ADD CONSTRAINT uq_request_log_key UNIQUE (key_hash)",
)


def _fill(conn: Connection) -> None:
    """Compute every stored row's key hash, a batch of rows at a time."""
    select = text(
        "SELECT id, source, request_id FROM request_log WHERE id > :after ORDER BY id LIMIT :n"
    )
    update = text("UPDATE request_log SET key_hash = :key WHERE id = :id")
    after = 0
    while rows := conn.execute(select, {"after": after, "n": BATCH_ROWS}).all():
        params = []
        for source in {r.source for r in rows}:
            mine = [r for r in rows if r.source == source]
            ids = np.array([r.request_id for r in mine], dtype=object)
            keys = key_hashes(source, ids).tolist()
            params += [{"id": r.id, "key": k} for r, k in zip(mine, keys, strict=True)]
        conn.execute(update, params)
        after = rows[-1].id


def _separate_shared(conn: Connection) -> None:
    """Rows whose keys share a hash: every one after the first moves to its alternate slot."""
    shared = conn.execute(
        text(
            "SELECT id, key_hash FROM request_log WHERE key_hash IN "
            "(SELECT key_hash FROM request_log GROUP BY key_hash HAVING count(*) > 1) "
            "ORDER BY key_hash, id"
        )
    ).all()
    seen: set[int] = set()
    for row in shared:
        if row.key_hash in seen:
            moved = int(alternate_key(np.array([row.key_hash], dtype=np.int64))[0])
            conn.execute(
                text("UPDATE request_log SET key_hash = :k WHERE id = :id"),
                {"k": moved, "id": row.id},
            )
        seen.add(row.key_hash)


def apply(conn: Connection) -> None:
    """Add and fill `key_hash`, then make it the table's unique key instead of the texts."""
    conn.exec_driver_sql("ALTER TABLE request_log ADD COLUMN key_hash BIGINT")
    _fill(conn)
    _separate_shared(conn)
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(SQLITE_TABLE)
        for statement in SQLITE_SWAP:
            conn.exec_driver_sql(statement)
    else:
        for statement in POSTGRESQL_KEY:
            conn.exec_driver_sql(statement)
