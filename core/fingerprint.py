"""Content fingerprints: tell an identical re-sent record (a duplicate) from a different one
under the same natural key (a conflict).

A fingerprint covers the normalised record, not its bytes, so the same request logged with
other key order, spacing or timestamp spelling is still the same record. It leaves out the key
itself (`request_id`) and `provider`, which is filled in from the price book when a record
names none. The hashed fields are listed here, in order, and never derived from the event
columns: stored fingerprints must not change when a column is added. Changing this list or the
mixing needs a migration step that re-fingerprints stored rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np
import pandas as pd

HASHED_FIELDS = (
    "model",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "latency_ms",
    "status",
    "error_type",
    "project",
    "feature",
    "user",
    "finish_reason",
    "max_tokens",
    "batch",
    "service_tier",
)
TEXT_FIELDS = frozenset(
    {"model", "error_type", "project", "feature", "user", "finish_reason", "service_tier"}
)
_SEED = np.uint64(0x9E3779B97F4A7C15)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every input bit moves every output bit (wraps mod 2**64)."""
    h = h ^ (h >> np.uint64(30))
    h = h * _M1
    h = h ^ (h >> np.uint64(27))
    h = h * _M2
    return h ^ (h >> np.uint64(31))


def _text_hash(value: object) -> int:
    return int.from_bytes(hashlib.blake2b(str(value).encode(), digest_size=8).digest(), "little")


def content_hashes(cols: Mapping[str, np.ndarray], *, intern: bool = False) -> np.ndarray:
    """A stable 64-bit fingerprint per event (`ts` as UTC microseconds, missing counts as -1).

    Same content, same fingerprint, in any process and on any backend. Text is hashed once per
    distinct value, numbers column by column. With `intern`, each text column of `cols` (a
    dict) is replaced by one shared object per distinct value, so a chunk pickles small.
    """
    h = _mix(np.asarray(cols["ts"]).astype(np.uint64) ^ _SEED)
    with np.errstate(over="ignore"):
        for position, name in enumerate(HASHED_FIELDS, start=1):
            values = cols[name]
            if name in TEXT_FIELDS:
                codes, uniques = pd.factorize(values)  # labels are never missing: no NA pass
                hashed = np.fromiter(map(_text_hash, uniques), np.uint64, len(uniques))
                values = hashed[codes] if len(codes) else np.zeros(0, np.uint64)
                if intern:
                    cols[name] = np.asarray(uniques, dtype=object)[codes]  # type: ignore[index]
            else:
                values = np.asarray(values).astype(np.int64).astype(np.uint64)
            h = _mix(h ^ _mix(values + np.uint64(position)))
    return h


def hex_hashes(hashes: np.ndarray) -> list[str]:
    """Fingerprints as the 16-digit hex text stored in `request_log.content_hash`."""
    text = hashes.astype(">u8").tobytes().hex().encode()  # one C pass, then split into 16s
    return np.frombuffer(text, dtype="S16").astype("U16").tolist()


def _text_words(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 bytes of each text as rows of little-endian 64-bit words (zero padded), and the
    byte length of each."""
    try:
        encoded = np.array(texts, dtype="S") if texts else np.zeros(0, "S8")
    except UnicodeEncodeError:
        encoded = np.array([t.encode() for t in texts], dtype="S")
    lengths = np.char.str_len(encoded).astype(np.uint64)
    width = max(8, -(-encoded.dtype.itemsize // 8) * 8)
    words = encoded.astype(f"S{width}").view("<u8").reshape(len(texts), width // 8)
    return words, lengths


def key_hashes(source: str, request_ids: np.ndarray) -> np.ndarray:
    """The stored natural key of each record: a stable signed 64-bit hash of (source,
    request_id), so the unique index holds 8-byte integers instead of long texts.

    Each id's own bytes are mixed a word at a time, so its hash does not depend on the other
    ids it is hashed with. Different keys may share a hash (about once in 10**10 pairs among a
    million keys); the writer then stores the second under `alternate_key` and always
    compares the real key.
    """
    texts = [str(r) for r in np.asarray(request_ids, dtype=object).tolist()]
    words, lengths = _text_words(texts)
    used = (lengths + np.uint64(7)) // np.uint64(8)  # words holding the id's bytes
    with np.errstate(over="ignore"):
        h = _mix(np.full(len(texts), np.uint64(_text_hash(source)), np.uint64) ^ _SEED)
        h = _mix(h ^ lengths)
        for column in range(words.shape[1]):
            mixed = _mix(h ^ _mix(words[:, column] + np.uint64(column + 1)))
            h = np.where(used > column, mixed, h)
    return h.view(np.int64)


def alternate_key(hashes: np.ndarray) -> np.ndarray:
    """The second slot of a key whose first is taken by another key."""
    with np.errstate(over="ignore"):
        return _mix(np.asarray(hashes).view(np.uint64) ^ _M2).view(np.int64)
