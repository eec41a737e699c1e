"""Chargeback chart: each cost centre's spend in a month, as horizontal bars."""

from __future__ import annotations

import altair as alt
import pandas as pd

from ui.charts import Chart, money_ticks, money_tooltip_format, style

BAR, UNALLOCATED_BAR = "#3266c8", "#9aa0a6"
MAX_BARS = 25


def centres_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per bar, the table's first `MAX_BARS` centres in its order: name, spend, and
    whether it is the unallocated line."""
    shown = frame.head(MAX_BARS)
    return pd.DataFrame(
        {
            "centre": shown["Cost centre"].astype(str).to_numpy(),
            "spend": shown["Spend"].astype("float64").to_numpy(),
            "unallocated": shown["unallocated"].astype(bool).to_numpy(),
        }
    )


def centres_figure(frame: pd.DataFrame, currency: str) -> Chart:
    """Bars of `Spend` per `Cost centre` (the table's order, largest first), unallocated grey.

    `frame` has the columns of `ui.reports.display_frame` and an `unallocated` flag.
    """
    bars = centres_frame(frame)
    title = f"Spend ({currency})"
    chart = (
        alt.Chart(bars)
        .mark_bar()
        .encode(
            x=alt.X("spend:Q", title=title, axis=alt.Axis(**money_ticks(currency))),
            y=alt.Y(
                "centre:N", sort=list(bars["centre"]), title=None, axis=alt.Axis(labelLimit=260)
            ),
            color=alt.condition("datum.unallocated", alt.value(UNALLOCATED_BAR), alt.value(BAR)),
            tooltip=[
                alt.Tooltip("centre:N", title="Cost centre"),
                alt.Tooltip(
                    "spend:Q", title=title, **money_tooltip_format(bars["spend"], currency)
                ),
            ],
        )
    )
    return style(chart, height=max(220, 28 * len(bars) + 80))
