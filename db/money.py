"""Exact money sums in SQL, whatever the total.

Costs are stored as BIGINT pico-dollars, so one SUM over many rows can pass 2**63 - 1 (about
$9.2M): SQLite then fails with "integer overflow". Summing the millionths and the remainders
separately keeps each partial sum far from the limit (a total up to $9.2 trillion), and the
two add up exactly in Python.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, cast, func
from sqlalchemy.sql.elements import ColumnElement

SPLIT = 1_000_000


def split_sum(column: ColumnElement, name: str) -> tuple[ColumnElement, ColumnElement]:
    """Two SQL sums of a non-negative pico-dollar column: whole millionths and remainders."""
    high = cast(func.coalesce(func.sum(column // SPLIT), 0), BigInteger).label(f"{name}_high")
    low = cast(func.coalesce(func.sum(column % SPLIT), 0), BigInteger).label(f"{name}_low")
    return high, low


def joined(high: int, low: int) -> int:
    """The exact total of a `split_sum` pair."""
    return int(high) * SPLIT + int(low)
