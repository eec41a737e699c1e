"""Plotly figure builders: each takes a DataFrame and returns a figure, testable without Streamlit.

One module per area (usage, plans, budgets, routing, prices); shared styling lives here.
"""

from __future__ import annotations

from html import escape

import plotly.graph_objects as go

FONT = "Inter, system-ui, sans-serif"


def style(fig: go.Figure, *, title: str | None = None, height: int = 360) -> go.Figure:
    """Common look: compact margins, legend on top, no plotly logo clutter."""
    fig.update_layout(
        title=title,
        height=height,
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        font={"family": FONT},
        hovermode="x unified",
    )
    return fig


def figure_text(text: object) -> str:
    """Text from a log or a user, shown as itself in a figure (Plotly reads tags and entities)."""
    return escape(str(text), quote=False)
