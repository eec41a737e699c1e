"""0008_fast_fingerprints: recompute every stored `request_log.content_hash`.

Rows stored by an earlier version carry a fingerprint of another function; without this,
re-sending those records would count them as conflicts instead of duplicates. Rows are read
with plain SQL a batch at a time (in id order) and fingerprinted by `core.fingerprint`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from core.fingerprint import content_hashes, hex_hashes

NAME = "0008_fast_fingerprints"
BATCH_ROWS = 50_000

TEXT_COLUMNS = (
    "model",
    "error_type",
    "project",
    "feature",
    "user",
    "finish_reason",
    "service_tier",
)
COUNT_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "status",
)
MAYBE_MISSING = ("latency_ms", "max_tokens")  # NULL is fingerprinted as -1
COLUMNS = ("id", "ts", *TEXT_COLUMNS, *COUNT_COLUMNS, *MAYBE_MISSING, "batch")  # SELECT's order

SELECT = text(
    'SELECT id, ts, model, error_type, project, feature, "user", finish_reason, service_tier, '
    "input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, "
    "status, latency_ms, max_tokens, batch "
    "FROM request_log WHERE id > :after ORDER BY id LIMIT :limit"
)
UPDATE = text("UPDATE request_log SET content_hash = :content_hash WHERE id = :id")


def apply(conn: Connection) -> None:
    """Fingerprint every stored row again, one batch of rows at a time."""
    after = 0
    while rows := conn.execute(SELECT, {"after": after, "limit": BATCH_ROWS}).all():
        columns = dict(zip(COLUMNS, zip(*rows, strict=True), strict=True))
        hashes = hex_hashes(content_hashes(event_arrays(columns)))
        ids = columns["id"]
        params = [{"id": i, "content_hash": h} for i, h in zip(ids, hashes, strict=True)]
        conn.execute(UPDATE, params)
        after = ids[-1]


def event_arrays(columns: dict[str, Sequence[Any]]) -> dict[str, np.ndarray]:
    """Stored values as `content_hashes` takes them (ts as UTC microseconds, '' for NULL)."""
    stamps = pd.to_datetime(pd.Series(columns["ts"], dtype=object), utc=True, format="ISO8601")
    arrays = {"ts": stamps.dt.as_unit("us").astype(np.int64).to_numpy()}
    for name in TEXT_COLUMNS:
        arrays[name] = np.array(["" if v is None else v for v in columns[name]], dtype=object)
    for name in COUNT_COLUMNS:
        arrays[name] = np.array(columns[name], dtype=np.int64)
    for name in MAYBE_MISSING:
        arrays[name] = np.array([-1 if v is None else v for v in columns[name]], dtype=np.int64)
    arrays["batch"] = np.array(columns["batch"], dtype=bool)
    return arrays
