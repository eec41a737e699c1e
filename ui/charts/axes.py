"""Money axes with round ticks ($0, $250, $500...), whatever the data's range."""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import altair as alt

from ui.charts import money_ticks

STEPS = (1, 2, 2.5, 5, 10)


def nice_step(span: float, ticks: int = 5) -> float:
    """A round tick step (1, 2, 2.5 or 5 times a power of ten) giving about `ticks` ticks."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in STEPS if m * power >= raw * (1 - 1e-9))


def money_axis(
    values: Iterable[float],
    ticks: int = 5,
    *,
    headroom: bool = False,
    title: str | None = None,
    currency: str | None = None,
) -> dict[str, Any]:
    """A money channel's scale and axis (`alt.Y("usd:Q", **money_axis(values))`): a domain from
    the round tick at or below the data (0 at most) to the one at or above it (one more with
    `headroom`, for value labels outside the bars), ticks on round dollar amounts with cents
    only when the step has them; labelled in `currency` (None: USD) as `money_ticks` does."""
    data = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    low, high = min([0.0, *data]), max([0.0, *data])
    step = nice_step(high - low, ticks)
    start = math.floor(round(low / step, 9)) * step
    end = math.ceil(round(high / step, 9)) * step if high > 0 else step
    if headroom and end - high < 0.15 * (end - start):
        end += step
    exponent = Decimal(repr(step)).normalize().as_tuple().exponent
    places = 0 if exponent >= 0 else max(2, -exponent)
    count = round((end - start) / step)
    return {
        "scale": alt.Scale(domain=[start, end], nice=False, zero=False),
        "axis": alt.Axis(
            values=[round(start + i * step, 9) for i in range(count + 1)],
            title=title,
            **money_ticks(currency, f"$,.{places}f"),
        ),
    }
