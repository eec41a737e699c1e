"""Chargeback figure: each cost centre's spend in a month, as horizontal bars."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from ui.charts import figure_text, style

BAR, UNALLOCATED_BAR = "#3266c8", "#9aa0a6"
MAX_BARS = 25


def centres_figure(frame: pd.DataFrame, currency: str) -> go.Figure:
    """Bars of `Spend` per `Cost centre` (the table's order, largest first), unallocated grey.

    `frame` has the columns of `ui.reports.display_frame` and an `unallocated` flag.
    """
    shown = frame.head(MAX_BARS).iloc[::-1]  # plotly draws the first category at the bottom
    fig = go.Figure(
        go.Bar(
            x=shown["Spend"],
            y=[figure_text(name) for name in shown["Cost centre"]],
            orientation="h",
            marker_color=[UNALLOCATED_BAR if u else BAR for u in shown["unallocated"]],
            hovertemplate=f"%{{y}}: %{{x:,.2f}} {figure_text(currency)}<extra></extra>",
        )
    )
    fig.update_xaxes(title=f"Spend ({figure_text(currency)})", tickformat=",.2f")
    fig.update_yaxes(type="category", automargin=True)
    fig.update_layout(hovermode="closest")
    return style(fig, height=max(220, 28 * len(shown) + 80))
