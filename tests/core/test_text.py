"""Counts in words: one rule for messages and pages."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.text import plural


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (0, "0 requests"),
        (1, "1 request"),
        (2, "2 requests"),
        (1_200, "1,200 requests"),
        (Decimal("1.000000"), "1 request"),
        (-1, "-1 request"),
    ],
)
def test_plural(count: int | Decimal, text: str) -> None:
    assert plural(count, "request") == text


def test_irregular_plurals_are_given() -> None:
    assert plural(3, "key or token", "keys or tokens") == "3 keys or tokens"
    assert plural(1, "key or token", "keys or tokens") == "1 key or token"
