"""Charts for the price book."""

from __future__ import annotations

from datetime import date

import altair as alt
import pandas as pd

from ui.charts import (
    MONEY_FORMAT,
    Chart,
    color_scale,
    day_tooltip,
    day_values,
    empty,
    series_colors,
    style,
)

_SERIES = {
    "input_mtok": "Input",
    "cached_input_mtok": "Cached input",
    "output_mtok": "Output",
    "batch_input_mtok": "Batch input",
    "batch_output_mtok": "Batch output",
}
PRICE_HOVER = "$,.4~f"  # a price per 1M tokens can be $0.0375


def history_frame(history: pd.DataFrame, today: date) -> pd.DataFrame:
    """One row per point of each price's step line: the price from each period's start, and
    the last price again at `today` so the line reaches it (a price not offered is empty)."""
    starts = [*history["effective_from"].fillna(date(2023, 1, 1)), today]
    frames = [pd.DataFrame(columns=["series", "day", "usd_mtok"])]
    for column, label in _SERIES.items():
        values = history[column].astype(float)
        if values.isna().all():
            continue
        points = [*values, values.iloc[-1]]
        frames.append(pd.DataFrame({"series": label, "day": starts, "usd_mtok": points}))
    frame = pd.concat(frames, ignore_index=True)
    return frame.assign(day=day_values(frame["day"]), usd_mtok=frame["usd_mtok"].astype(float))


def price_history(history: pd.DataFrame, today: date) -> Chart:
    """Step lines of each price of one model over time (USD per 1M tokens)."""
    frame = history_frame(history, today)
    if frame.empty:
        return empty(text="No prices for this model")
    colors = series_colors(frame["series"])
    chart = (
        alt.Chart(frame)
        .mark_line(interpolate="step-after", point=True, invalid="break-paths-show-domains")
        .encode(
            x=alt.X(
                "day:T",
                title=None,
                scale=alt.Scale(type="utc"),
                axis=alt.Axis(format="%b %Y", labelOverlap=True),
            ),
            y=alt.Y(
                "usd_mtok:Q",
                title="USD per 1M tokens",
                scale=alt.Scale(zero=True),
                axis=alt.Axis(format=MONEY_FORMAT),
            ),
            color=alt.Color("series:N", scale=color_scale(colors), sort=list(colors)),
            tooltip=[
                alt.Tooltip("series:N", title="Price"),
                day_tooltip(title="From"),
                alt.Tooltip("usd_mtok:Q", title="USD per 1M tokens", format=PRICE_HOVER),
            ],
        )
    )
    return style(chart, height=320)
