"""Rows tests write straight into the database: requests with their stored key, rollups."""

from __future__ import annotations

import numpy as np
from sqlalchemy import Connection, func, select

from core.fingerprint import key_hashes
from core.rollups import ROLLUP_SUMS, USAGE_KEY
from db.models import DailyRollup, UsageDaily

DAILY = DailyRollup.__table__
USAGE = UsageDaily.__table__


def with_keys(rows: list[dict]) -> list[dict]:
    """`rows` with `key_hash` set as the ingest sets it (from source and request_id)."""
    out = []
    for row in rows:
        key = key_hashes(row["source"], np.array([row["request_id"]], dtype=object))[0]
        out.append({**row, "key_hash": int(key)})
    return out


def insert_rollup(conn: Connection, rows: list[dict]) -> None:
    """Daily rollup rows written straight in, and the usage rollup made again from them as
    an ingest would keep it (the daily rollup summed over feature and tag set)."""
    conn.execute(DAILY.insert(), rows)
    conn.execute(USAGE.delete())
    key = [DAILY.c[name] for name in USAGE_KEY]
    sums = [func.sum(DAILY.c[name]).label(name) for name in ROLLUP_SUMS]
    query = select(*key, *sums).group_by(*key)
    conn.execute(USAGE.insert().from_select([*USAGE_KEY, *ROLLUP_SUMS], query))
