"""Rows tests write straight into the database: requests with their stored key, rollups."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy import Connection

from core.fingerprint import key_hashes
from db.ingest.rollups import derive_from_daily, rebuild_latency
from db.models import DailyRollup, LatencyDaily, LatencyHistogram, OutputDaily, OutputHistogram

DAILY = DailyRollup.__table__


def with_keys(rows: list[dict]) -> list[dict]:
    """`rows` with `key_hash` set as the ingest sets it (from source and request_id)."""
    out = []
    for row in rows:
        key = key_hashes(row["source"], np.array([row["request_id"]], dtype=object))[0]
        out.append({**row, "key_hash": int(key)})
    return out


def insert_rollup(conn: Connection, rows: list[dict]) -> None:
    """Daily rollup rows written straight in, and what an ingest derives from them (the
    coarser rollups and the cost of failure) made again by the product's own rebuild."""
    conn.execute(DAILY.insert(), rows)
    derive_from_daily(conn)


def insert_histograms(
    conn: Connection, latency: Sequence[dict] = (), output: Sequence[dict] = ()
) -> None:
    """Histogram rows (day, model_id, project, status, bucket, count) written straight in,
    with their (day, model_id, bucket) sums in the daily histograms, as an ingest keeps them."""
    for full, daily, rows in (
        (LatencyHistogram, LatencyDaily, latency),
        (OutputHistogram, OutputDaily, output),
    ):
        if not rows:
            continue
        sums: dict[tuple, int] = {}
        for r in rows:
            key = (r["day"], r["model_id"], r["bucket"])
            sums[key] = sums.get(key, 0) + r["count"]
        conn.execute(full.__table__.insert(), list(rows))
        summed = [
            {"day": d, "model_id": m, "bucket": b, "count": n} for (d, m, b), n in sums.items()
        ]
        conn.execute(daily.__table__.insert(), summed)
    rebuild_latency(conn)
