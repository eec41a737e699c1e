"""Number formatting for the pages: money, tokens, shares, durations."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


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
