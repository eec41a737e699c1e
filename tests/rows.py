"""Raw request rows written straight into `request_log` by tests, with their stored key."""

from __future__ import annotations

import numpy as np

from core.fingerprint import key_hashes


def with_keys(rows: list[dict]) -> list[dict]:
    """`rows` with `key_hash` set as the ingest sets it (from source and request_id)."""
    out = []
    for row in rows:
        key = key_hashes(row["source"], np.array([row["request_id"]], dtype=object))[0]
        out.append({**row, "key_hash": int(key)})
    return out
