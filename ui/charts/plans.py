"""Figures for the cost calculator: projection, split, models, tornado, heat map, chats, scenarios.

Money arrives as exact `Decimal` in the frames; it becomes float only here, for drawing.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from ui.charts import figure_text, style
from ui.charts.axes import money_axis
from ui.format import usd

MONTHLY, CUMULATIVE = "#4C78A8", "#F58518"
SELECTED, TOO_SMALL, OTHER = "#F58518", "#BBBBBB", "#4C78A8"
CHEAPER, DEARER = "#54A24B", "#E45756"
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
    monthly, cumulative = _floats(frame["monthly_usd"]), _floats(frame["cumulative_usd"])
    fig = go.Figure()
    fig.add_bar(x=frame["month"], y=monthly, name="Monthly cost", marker_color=MONTHLY)
    fig.add_scatter(
        x=frame["month"],
        y=cumulative,
        name="Cumulative",
        mode="lines+markers",
        line_color=CUMULATIVE,
        yaxis="y2",
    )
    fig.update_layout(
        xaxis={"title": "Month", "dtick": 1},
        yaxis=money_axis(monthly, title="USD per month"),
        yaxis2=money_axis(
            cumulative, title="Cumulative USD", overlaying="y", side="right", showgrid=False
        ),
    )
    return style(fig, height=340)


def split_chart(parts: dict[str, object]) -> go.Figure:
    """One horizontal stacked bar: the month's cost by what is billed, each part labelled."""
    fig = go.Figure()
    for key, (label, color) in SPLIT.items():
        fig.add_bar(
            y=["Month"],
            x=[float(parts[key])],
            name=label,
            orientation="h",
            marker_color=color,
            text=[usd(parts[key])] if parts[key] else None,
            textposition="inside",
            insidetextanchor="middle",
            hovertemplate=f"{label}: $%{{x:,.2f}}<extra></extra>",
        )
    total = sum(float(parts[key]) for key in SPLIT)
    fig.update_layout(
        barmode="stack",
        xaxis=money_axis([total]),
        yaxis={"visible": False},
        hovermode="closest",
        uniformtext={"mode": "hide", "minsize": 10},
    )
    return style(fig, height=150)


def models_chart(frame: pd.DataFrame, limit: int = 25) -> go.Figure:
    """The cheapest models (and the selected one) as horizontal bars of monthly cost, each
    labelled; the selected model and models too small for the request in their own colours."""
    shown = frame.head(limit)
    if not shown["selected"].any():
        shown = pd.concat([shown, frame[frame["selected"]]])
    shown = shown.iloc[::-1]
    names = (shown["provider"] + " · " + shown["model"]).map(figure_text)
    selected = shown["selected"].to_numpy(bool)
    too_small = shown["fits_context"].map(lambda f: f is False).to_numpy(bool) & ~selected
    groups = (
        ("Selected", selected, SELECTED),
        ("Too small for the request", too_small, TOO_SMALL),
        ("Other models", ~selected & ~too_small, OTHER),
    )
    fig = go.Figure()
    for label, mask, color in groups:
        part = shown[mask]
        fig.add_bar(
            x=_floats(part["monthly_usd"]),
            y=names[mask],
            orientation="h",
            name=label,
            marker_color=color,
            text=[usd(v) for v in part["monthly_usd"]],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: $%{x:,.2f} a month<extra></extra>",
        )
    fig.update_layout(
        xaxis=money_axis(_floats(shown["monthly_usd"]), headroom=True, title="USD per month"),
        yaxis={"categoryorder": "array", "categoryarray": list(names)},
        hovermode="closest",
    )
    return style(fig, height=max(300, 22 * len(shown) + 80))


def tornado_chart(frame: pd.DataFrame) -> go.Figure:
    """Each driver's low and high monthly cost around the base, widest bar on top: green
    where the driver's value makes the month cheaper, red where dearer, each end labelled
    with the driver's value and the month's cost."""
    rows = frame.iloc[::-1]
    base = float(rows["base_usd"].iloc[0]) if len(rows) else 0.0
    ends = [
        (label, float(cost) - base, f"{value}: {usd(cost)}")
        for label, low, high, low_text, high_text in zip(
            rows["label"],
            rows["low_usd"],
            rows["high_usd"],
            rows["low_text"],
            rows["high_text"],
            strict=True,
        )
        for cost, value in ((low, low_text), (high, high_text))
    ]
    fig = go.Figure()
    for name, color, cheaper in (("Cheaper", CHEAPER, True), ("Dearer", DEARER, False)):
        part = [e for e in ends if (e[1] < 0) == cheaper and e[1] != 0]
        fig.add_bar(
            y=[e[0] for e in part],
            x=[e[1] for e in part],
            base=base,
            orientation="h",
            name=f"{name} than the plan",
            marker_color=color,
            text=[e[2] for e in part],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}, %{text}<extra></extra>",
        )
    fig.add_vline(x=base, line_dash="dot", line_color="#555")
    costs = [base + e[1] for e in ends] or [base]
    axis = money_axis(costs, title="USD per month")
    spread = axis["range"][1] - axis["range"][0]
    axis["range"] = [max(0.0, axis["range"][0] - 0.3 * spread), axis["range"][1] + 0.3 * spread]
    fig.update_layout(
        barmode="overlay",
        xaxis=axis,
        yaxis={"categoryorder": "array", "categoryarray": list(rows["label"])},
        hovermode="closest",
    )
    return style(fig, height=max(320, 44 * len(rows) + 80))


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
            colorbar={"title": "USD/mo", "tickprefix": "$", "tickformat": ",.0f"},
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
    """Monthly cost of each saved scenario, stacked by what is billed, totals on top."""
    names = frame["scenario"].map(figure_text)
    fig = go.Figure()
    for key, (label, color) in SPLIT.items():
        fig.add_bar(x=names, y=_floats(frame[key]), name=label, marker_color=color)
    totals = [sum(parts) for parts in zip(*(frame[key] for key in SPLIT), strict=True)]
    fig.add_scatter(
        x=names,
        y=[float(t) for t in totals],
        mode="text",
        text=[usd(t) for t in totals],
        textposition="top center",
        showlegend=False,
        hoverinfo="skip",
    )
    fig.update_layout(
        barmode="stack",
        yaxis=money_axis([float(t) for t in totals], headroom=True, title="USD per month"),
        hovermode="x unified",
    )
    return style(fig, height=340)
