"""Figures for the price book."""

from __future__ import annotations

from datetime import date

import pandas as pd
import plotly.graph_objects as go

from ui.charts import style

_SERIES = {
    "input_mtok": "Input",
    "cached_input_mtok": "Cached input",
    "output_mtok": "Output",
    "batch_input_mtok": "Batch input",
    "batch_output_mtok": "Batch output",
}


def price_history(history: pd.DataFrame, today: date) -> go.Figure:
    """Step lines of each price of one model over time (USD per 1M tokens)."""
    fig = go.Figure()
    if history.empty:
        return style(fig)
    frame = history.copy()
    frame["start"] = pd.to_datetime(frame["effective_from"].fillna(date(2023, 1, 1)))
    end = pd.Timestamp(today)
    for column, label in _SERIES.items():
        values = frame[column].astype(float)
        if values.isna().all():
            continue
        x = [*frame["start"], end]
        y = [*values, values.iloc[-1]]
        fig.add_trace(go.Scatter(x=x, y=y, name=label, mode="lines+markers", line_shape="hv"))
    fig.update_yaxes(title="USD per 1M tokens", rangemode="tozero", tickprefix="$")
    return style(fig, height=320)
