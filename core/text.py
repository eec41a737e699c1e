"""Counts in words: `1 request`, `1,200 requests`. One rule for every message and page."""

from __future__ import annotations

from decimal import Decimal


def plural(count: int | Decimal, noun: str, nouns: str | None = None) -> str:
    """`count` with thousands separators and the noun in the right number (`1 request`)."""
    whole = int(count) if Decimal(count) == int(count) else None
    shown = f"{whole:,}" if whole is not None else f"{Decimal(count):,}"
    word = noun if whole is not None and abs(whole) == 1 else (nouns or f"{noun}s")
    return f"{shown} {word}"
