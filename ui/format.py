"""Formatting for the pages: money, tokens, shares, durations, and log text shown as text."""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from core.text import plural  # counts in words: one rule, in core, for messages and pages


def usd(value: Decimal | float | int | None, places: int = 2) -> str:
    """$1,234.57; small amounts keep enough places to be non-zero ($0.0125)."""
    if value is None:
        return "—"
    amount = Decimal(str(value))
    if amount != 0 and abs(amount) < Decimal("0.01") and places == 2:
        places = max(2, -amount.adjusted() + 2)
    quantum = Decimal(1).scaleb(-places)
    rounded = amount.quantize(quantum, rounding=ROUND_HALF_UP)
    sign = "-" if rounded < 0 else ""
    return f"{sign}${abs(rounded):,.{places}f}"


def in_currency(amount: Decimal, currency: str, places: int = 2) -> str:
    """As `usd` for USD ($0.0125); another currency's code follows the figure (0.0125 EUR)."""
    text = usd(amount, places=places)
    return text if currency == "USD" else f"{text.replace('$', '', 1)} {currency}"


def tokens(value: float | int | None) -> str:
    """1.2M, 34.5k, 980 tokens."""
    if value is None:
        return "—"
    value = float(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:,.1f}{suffix}"
    return f"{value:,.0f}"


def share(value: float | Decimal | None, places: int = 1) -> str:
    """0.0312 -> 3.1 %."""
    if value is None:
        return "—"
    return f"{float(value) * 100:.{places}f} %"


def millis(value: float | None) -> str:
    """1234 -> 1,234 ms; 12345 -> 12.3 s."""
    if value is None:
        return "—"
    return f"{value / 1000:,.1f} s" if value >= 10_000 else f"{value:,.0f} ms"


# A backslash makes any ASCII punctuation literal in CommonMark; escaping all of it also covers
# Streamlit's additions ($math$, :directive[...], ~~strike~~) and HTML (<, >, &). A line break
# would start a new block (a heading, a list, a table), so it becomes a space.
_MARKDOWN_SIGNIFICANT = re.compile(f"([{re.escape(string.punctuation)}])")
_LINE_BREAK = re.compile(r"\r\n|[\r\n\u2028\u2029]")
# GFM links a bare `http://...` or `www.` in text even when its characters are escaped; an
# invisible word joiner (U+2060) inside `://` and after `www` leaves it as text.
_BARE_LINK = re.compile(r"(?i)(?:(?<=http:)|(?<=https:))(?=//)|(?<=www)(?=\.)")
WORD_JOINER = "\u2060"


def escape_markdown(text: object) -> str:
    """Text from a log or a user, shown as itself wherever Streamlit renders Markdown."""
    one_line = _LINE_BREAK.sub(" ", str(text))
    return _MARKDOWN_SIGNIFICANT.sub(r"\\\1", _BARE_LINK.sub(WORD_JOINER, one_line))


def names_text(names: Iterable[object]) -> str:
    """Names from logs or users, escaped for Markdown and joined: `a, b, c`."""
    return ", ".join(escape_markdown(name) for name in names)


def counts_text(counts: Mapping[object, int], unit: str = "") -> str:
    """Names and counts, escaped for Markdown: `gpt-x (1,200 requests), acme (1 request)`.

    `unit` is the plural noun ("requests"); a count of one reads in the singular.
    """

    def count(n: int) -> str:
        return plural(n, unit.removesuffix("s"), unit) if unit else f"{n:,}"

    return ", ".join(f"{escape_markdown(name)} ({count(n)})" for name, n in counts.items())


def measure(value: Decimal | float | int, unit: str) -> str:
    """An alert's value in its unit: `6.25 %`, `8 %`, `5,200 ms`, `$50.00`, `1 request`."""
    if unit == "USD":
        return usd(value)
    if unit == "requests":
        return plural(Decimal(str(value)).normalize(), "request")
    number = Decimal(str(value))
    whole = number == number.to_integral_value()
    shown = f"{number:,.0f}" if whole else f"{number:,.2f}"
    return f"{shown} {unit}".strip()


def day_text(day: date | None) -> str:
    """14 Jan 2026 (a dash for none)."""
    return f"{day.day} {day:%b %Y}" if day else "—"
