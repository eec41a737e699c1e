"""Plotly figure builders: each takes a DataFrame and returns a figure, testable without Streamlit.

One module per area (usage, plans, budgets, routing, prices); shared styling lives here: the
layout, a palette with a distinct colour for every series of a chart, and axis formats (money
with thousands separators and no needless decimals, days without times, token counts).
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

import plotly.graph_objects as go

FONT = "Inter, system-ui, sans-serif"
# 24 colours distinct from each other (Plotly's, D3's and Dark24's, without near repeats), so a
# chart of up to 24 series never gives two of them one colour.
PALETTE = (
    "#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3", "#ff6692", "#b6e880",
    "#ff97ff", "#fecb52", "#1f77b4", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    "#2e91e5", "#e15f99", "#1ca71c", "#fb0d0d", "#da16ff", "#222a2a", "#b68100", "#750d86",
)  # fmt: skip
# Three significant digits, trailing zeros dropped: ticks read $0.005, $20, $1,500.
MONEY_TICKS = {"tickprefix": "$", "tickformat": ",.3~r"}
COUNT_TICKS = {"tickformat": ",~r"}
TOKEN_TICKS = {"tickformat": "~s"}
DAY_TICKS = {"tickformat": "%d %b", "hoverformat": "%a %d %b %Y"}


def style(fig: go.Figure, *, title: str | None = None, height: int = 360) -> go.Figure:
    """Common look: compact margins, legend on top, distinct colours, no clutter."""
    fig.update_layout(
        title=title,
        height=height,
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        font={"family": FONT},
        hovermode="x unified",
        colorway=list(PALETTE),
        separators=".,",
    )
    return fig


def series_colors(names: Iterable[object]) -> dict[object, str]:
    """A colour per series, distinct within a chart (in the order given; cycles past 24)."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(dict.fromkeys(names))}


def money_hover(values: Iterable[float]) -> str:
    """The hover format of a money series: cents, or four decimals where cents would hide every
    value (a chart of $0.0035 calls)."""
    top = max((abs(float(v)) for v in values), default=0.0)
    return "%{y:$,.2f}" if top >= 0.01 or top == 0 else "%{y:$,.4~f}"


def figure_text(text: object) -> str:
    """Text from a log or a user, shown as itself in a figure (Plotly reads tags and entities)."""
    return escape(str(text), quote=False)
