"""Prepared events as `request_log` rows: driver values in the table's column order.

SQLite stores times as the text SQLAlchemy would write (`2025-03-01 10:00:00.000000`);
PostgreSQL takes aware datetimes and dates. The text is made per column in numpy, and may be
made in the parsing process (`for_dialect`) so the writing process only sends it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, bindparam

from core.logs.events import EVENT_COLUMNS, NULLABLE_COLUMNS
from core.prepare import Prepared
from core.rollups import COST_COLUMNS
from db.ingest.bulk import dialect_module, execute_flat
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
    "source",
    "upload_id",
}
ROW_COLUMNS = tuple(c.name for c in LOG.columns if c.name in STORED)  # Core's VALUES order
_NULLABLE = NULLABLE_COLUMNS | {"latency_bucket"}


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
    row order (sorted by request_id, stably, so concurrent ingests lock rows in one order)."""
    cols = chunk.cols
    if dialect_name == "postgresql":
        order = np.argsort(cols["request_id"].astype(str), kind="stable")
        return Prepared({n: v[order] for n, v in cols.items()}, chunk.sums)
    stamps, days = time_values("sqlite", cols["ts"])
    cols["ts_text"] = np.array(stamps, dtype=object)
    cols["day_text"] = np.array(days, dtype=object)
    return chunk


def row_params(
    cols: dict[str, np.ndarray], dialect_name: str, source: str, upload_id: int | None
) -> list:
    """Every row's values in ROW_COLUMNS order, one flat list (row after row)."""
    n = len(cols["request_id"])
    width = len(ROW_COLUMNS)
    flat: list = [None] * (n * width)
    if "ts_text" in cols and dialect_name == "sqlite":
        stamps, days = cols["ts_text"].tolist(), cols["day_text"].tolist()
    else:
        stamps, days = time_values(dialect_name, cols["ts"])
    for i, name in enumerate(ROW_COLUMNS):
        if name == "ts":
            values = stamps
        elif name == "day":
            values = days
        elif name == "source":
            values = [source] * n
        elif name == "upload_id":
            values = [upload_id] * n
        else:
            values = cols[name].tolist()
            if name in _NULLABLE and (cols[name] < 0).any():
                values = [v if v >= 0 else None for v in values]
        flat[i::width] = values
    return flat


def _log_insert(dialect_name: str) -> Any:
    return (
        dialect_module(dialect_name)
        .insert(LOG)
        .values({name: bindparam(name) for name in ROW_COLUMNS})
        .on_conflict_do_nothing(index_elements=["source", "request_id"])
        .returning(LOG.c.request_id)
    )


def insert_new(conn: Connection, flat: list) -> list[str]:
    """Insert rows (a flat ROW_COLUMNS-ordered list), skipping existing natural keys; returns
    the request_ids actually inserted."""
    name = conn.dialect.name
    return execute_flat(conn, ("log",), lambda: _log_insert(name), flat, len(ROW_COLUMNS))
