"""Figures for the cost calculator: projection, split, models, tornado, heat map, chats, scenarios.

Money arrives as exact `Decimal` in the frames; it becomes float only here, for drawing.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from ui.charts import figure_text, style

SPLIT = {
    "uncached_input_usd": ("Uncached input", "#4C78A8"),
    "cached_input_usd": ("Cached input", "#72B7B2"),
    "output_usd": ("Output", "#F58518"),
}
STRATEGY_COLORS = {"full": "#E45756", "window": "#4C78A8", "summary": "#54A24B"}


def _floats(values: pd.Series) -> list[float]:
    return [float(v) if v is not None else 0.0 for v in values]


def projection_chart(frame: pd.DataFrame) -> go.Figure:
    """Monthly cost bars with the cumulative total as a line on a second axis."""
    fig = go.Figure()
    fig.add_bar(x=frame["month"], y=_floats(frame["monthly_usd"]), name="Monthly cost")
    fig.add_scatter(
        x=frame["month"],
        y=_floats(frame["cumulative_usd"]),
        name="Cumulative",
        mode="lines+markers",
        yaxis="y2",
    )
    fig.update_layout(
        xaxis={"title": "Month", "dtick": 1},
        yaxis={"title": "USD per month", "tickprefix": "$", "rangemode": "tozero"},
        yaxis2={
            "title": "Cumulative USD",
            "tickprefix": "$",
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
            "showgrid": False,
        },
    )
    return style(fig, height=340)


def split_chart(parts: dict[str, object]) -> go.Figure:
    """One horizontal stacked bar: the month's cost by what is billed."""
    fig = go.Figure()
    for key, (label, color) in SPLIT.items():
        fig.add_bar(
            y=["Month"],
            x=[float(parts[key])],
            name=label,
            orientation="h",
            marker_color=color,
            hovertemplate=f"{label}: $%{{x:,.2f}}<extra></extra>",
        )
    fig.update_layout(
        barmode="stack", xaxis={"tickprefix": "$"}, yaxis={"visible": False}, hovermode="closest"
    )
    return style(fig, height=150)


def models_chart(frame: pd.DataFrame, limit: int = 25) -> go.Figure:
    """The cheapest models (and the selected one) as horizontal bars of monthly cost."""
    shown = frame.head(limit)
    if not shown["selected"].any():
        shown = pd.concat([shown, frame[frame["selected"]]])
    shown = shown.iloc[::-1]
    colors = [
        "#F58518" if s else ("#BBBBBB" if f is False else "#4C78A8")
        for s, f in zip(shown["selected"], shown["fits_context"], strict=True)
    ]
    fig = go.Figure(
        go.Bar(
            x=_floats(shown["monthly_usd"]),
            y=(shown["provider"] + " · " + shown["model"]).map(figure_text),
            orientation="h",
            marker_color=colors,
            hovertemplate="%{y}: $%{x:,.2f} a month<extra></extra>",
        )
    )
    fig.update_layout(xaxis={"title": "USD per month", "tickprefix": "$"}, hovermode="closest")
    return style(fig, height=max(300, 22 * len(shown) + 60))


def tornado_chart(frame: pd.DataFrame) -> go.Figure:
    """Each driver's low and high monthly cost around the base, widest bar on top."""
    rows = frame.iloc[::-1]
    base = float(rows["base_usd"].iloc[0]) if len(rows) else 0.0
    low = [float(v) - base for v in rows["low_usd"]]
    high = [float(v) - base for v in rows["high_usd"]]
    fig = go.Figure()
    fig.add_bar(
        y=rows["label"],
        x=low,
        base=base,
        orientation="h",
        name="Driver low",
        marker_color="#4C78A8",
        customdata=rows["low_text"],
        hovertemplate="%{y} at %{customdata}: $%{x:,.2f} vs base<extra></extra>",
    )
    fig.add_bar(
        y=rows["label"],
        x=high,
        base=base,
        orientation="h",
        name="Driver high",
        marker_color="#E45756",
        customdata=rows["high_text"],
        hovertemplate="%{y} at %{customdata}: $%{x:+,.2f} vs base<extra></extra>",
    )
    fig.add_vline(x=base, line_dash="dot", line_color="#555")
    fig.update_layout(
        barmode="overlay", xaxis={"title": "USD per month", "tickprefix": "$"}, hovermode="closest"
    )
    return style(fig, height=320)


def heatmap_chart(grid: pd.DataFrame) -> go.Figure:
    """Monthly cost over requests/day (rows) x output tokens (columns)."""
    z = [[float(v) for v in row] for row in grid.to_numpy()]
    text = [[f"${v:,.0f}" if v >= 100 else f"${v:,.2f}" for v in row] for row in z]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[str(c) for c in grid.columns],
            y=[str(i) for i in grid.index],
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            colorbar={"title": "USD/mo"},
            hovertemplate="%{y} req/day, %{x} output tokens: %{text}<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis={"title": "Output tokens per request", "type": "category"},
        yaxis={"title": "Requests per day", "type": "category"},
        hovermode="closest",
    )
    return style(fig, height=380)


def conversation_chart(turns: pd.DataFrame) -> go.Figure:
    """Input tokens sent at each turn under each history strategy."""
    fig = go.Figure()
    for strategy, group in turns.groupby("strategy", sort=False):
        fig.add_scatter(
            x=group["turn"],
            y=group["input_tokens"],
            name=group["label"].iloc[0],
            mode="lines+markers",
            line_color=STRATEGY_COLORS.get(strategy),
        )
    fig.update_layout(
        xaxis={"title": "Turn", "dtick": 1},
        yaxis={"title": "Input tokens sent", "rangemode": "tozero"},
    )
    return style(fig, height=320)


def scenarios_chart(frame: pd.DataFrame) -> go.Figure:
    """Monthly cost of each saved scenario, stacked by what is billed."""
    fig = go.Figure()
    for key, (label, color) in SPLIT.items():
        fig.add_bar(
            x=frame["scenario"].map(figure_text),
            y=_floats(frame[key]),
            name=label,
            marker_color=color,
        )
    fig.update_layout(barmode="stack", yaxis={"title": "USD per month", "tickprefix": "$"})
    return style(fig, height=340)
