"""Prepared events as `request_log` rows: driver values in the table's column order.

SQLite stores times as the text SQLAlchemy would write (`2025-03-01 10:00:00.000000`);
PostgreSQL takes aware datetimes and dates. The text is made per column in numpy, and may be
made in the parsing process (`for_dialect`) so the writing process only sends it.
"""

from __future__ import annotations

from itertools import chain
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, bindparam
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect

from core.logs.events import EVENT_COLUMNS, NULLABLE_COLUMNS
from core.prepare import Prepared
from core.rollups import COST_COLUMNS
from db.ingest.bulk import dialect_module, execute_flat, execute_many
from db.models import RequestLog

LOG = RequestLog.__table__
STORED = {
    *EVENT_COLUMNS,
    "model_id",
    "day",
    "priced",
    *COST_COLUMNS,
    "output_bucket",
    "latency_bucket",
    "price_version",
    "content_hash",
    "key_hash",
    "source",
    "upload_id",
}
ROW_COLUMNS = tuple(c.name for c in LOG.columns if c.name in STORED)  # Core's VALUES order
_NULLABLE = NULLABLE_COLUMNS | {"latency_bucket"}
_SQLITE: dict[str, str] = {}


def time_values(dialect_name: str, micros: np.ndarray) -> tuple[list, list]:
    """ts and day as the driver wants them (SQLite: the text SQLAlchemy would have written)."""
    moments = micros.astype("datetime64[us]")
    if dialect_name != "sqlite":  # aware datetimes and dates
        aware = pd.to_datetime(micros, unit="us", utc=True).to_pydatetime().tolist()
        return aware, moments.astype("datetime64[D]").tolist()
    stamps = np.datetime_as_string(moments, unit="us")  # 2025-03-01T10:00:00.000000
    if len(stamps):
        stamps.view(np.uint32).reshape(len(stamps), -1)[:, 10] = ord(" ")
    days, inverse = np.unique(moments.astype("datetime64[D]"), return_inverse=True)
    texts = np.array(np.datetime_as_string(days).tolist(), dtype=object)  # one object per day
    return stamps.tolist(), texts[inverse.ravel()].tolist()


def for_dialect(chunk: Prepared, dialect_name: str) -> Prepared:
    """The chunk with what the dialect needs made ahead: SQLite's time text, or PostgreSQL's
    row order (sorted by key, stably, so concurrent ingests lock rows in one order)."""
    cols = chunk.cols
    if dialect_name == "postgresql":
        order = np.argsort(cols["key_hash"], kind="stable")
        return Prepared({n: v[order] for n, v in cols.items()}, chunk.sums)
    stamps, days = time_values("sqlite", cols["ts"])
    cols["ts_text"] = np.array(stamps, dtype=object)
    cols["day_text"] = np.array(days, dtype=object)
    return chunk


def row_values(
    cols: dict[str, np.ndarray], dialect_name: str, source: str, upload_id: int | None
) -> list[tuple]:
    """Every row's values in ROW_COLUMNS order, as one tuple per row."""
    n = len(cols["request_id"])
    if "ts_text" in cols and dialect_name == "sqlite":
        stamps, days = cols["ts_text"].tolist(), cols["day_text"].tolist()
    else:
        stamps, days = time_values(dialect_name, cols["ts"])
    columns = []
    for name in ROW_COLUMNS:
        if name == "ts":
            values = stamps
        elif name == "day":
            values = days
        elif name in ("source", "upload_id"):
            values = [source if name == "source" else upload_id] * n
        else:
            values = cols[name].tolist()
            if name in _NULLABLE and (cols[name] < 0).any():
                values = [v if v >= 0 else None for v in values]
        columns.append(values)
    return list(zip(*columns, strict=True))


def _log_insert(dialect_name: str, returning: bool = True) -> Any:
    stmt = (
        dialect_module(dialect_name)
        .insert(LOG)
        .values({name: bindparam(name) for name in ROW_COLUMNS})
        .on_conflict_do_nothing(index_elements=["key_hash"])
    )
    return stmt.returning(LOG.c.key_hash) if returning else stmt


def insert_new(conn: Connection, rows: list[tuple]) -> list[int] | None:
    """Insert rows (`row_values`), skipping keys already stored; returns the key hashes
    actually inserted, or None when every row went in.

    SQLite takes the rows through `executemany`, which for rows this wide is faster than
    multi-row VALUES statements; the rows it inserted are the last ones it numbered (SQLite
    numbers a new row one past the largest id, and the writer holds the only write lock while
    it inserts). PostgreSQL's multi-row statement says what it inserted itself (RETURNING),
    concurrent ingests notwithstanding.
    """
    name = conn.dialect.name
    if name != "sqlite":
        flat = list(chain.from_iterable(rows))
        inserted = execute_flat(conn, ("log",), lambda: _log_insert(name), flat, len(ROW_COLUMNS))
        return None if len(inserted) == len(rows) else inserted
    if "log" not in _SQLITE:
        _SQLITE["log"] = str(_log_insert(name, returning=False).compile(dialect=sqlite_dialect()))
    cursor = conn.connection.cursor()
    try:
        execute_many(conn, cursor, _SQLITE["log"], rows)
        if cursor.rowcount == len(rows):
            return None
        found = cursor.execute(
            "SELECT key_hash FROM request_log WHERE id > (SELECT max(id) FROM request_log) - ?",
            (cursor.rowcount,),
        )
        return [row[0] for row in found.fetchall()]
    finally:
        cursor.close()
