"""Budget figures: the month's cumulative spend vs forecast vs budget, and coloured progress bars."""

from __future__ import annotations

from decimal import Decimal
from html import escape

import pandas as pd
import plotly.graph_objects as go

from core.currency import Conversion
from core.forecast import BudgetStatus, forecast_path
from ui.charts import style

COLORS = {"ok": "#2e9e5b", "warn": "#e0a800", "high": "#f07b16", "over": "#d64545"}
ACTUAL, FORECAST, BAND, BUDGET = "#3266c8", "#3266c8", "rgba(50,102,200,0.15)", "#d64545"


def level(status: BudgetStatus) -> str:
    """ok (no threshold reached), warn (< 90 %), high (< 100 %) or over (>= 100 %)."""
    top = status.highest_reached
    if top is None:
        return "ok"
    return "over" if top >= 100 else "high" if top >= 90 else "warn"


def badge_color(status: BudgetStatus) -> str:
    """A Streamlit badge colour matching `level`."""
    return {"ok": "green", "warn": "yellow", "high": "orange", "over": "red"}[level(status)]


def progress_html(status: BudgetStatus) -> str:
    """A progress bar coloured by the highest threshold reached, with a tick per threshold."""
    width = min(float(status.used_pct), 100.0)
    scale = max(100.0, float(max(status.thresholds_pct, default=100)))
    ticks = "".join(
        f'<div title="{t} %" style="position:absolute;left:{t / scale * 100:.2f}%;top:-3px;'
        f'height:20px;border-left:2px solid #555;opacity:.55"></div>'
        for t in status.thresholds_pct
    )
    return (
        '<div style="position:relative;height:14px;border-radius:7px;background:#e8eaee;'
        'margin:6px 0 10px 0" role="progressbar" '
        f'aria-valuenow="{escape(str(status.used_pct))}" aria-label="budget used">'
        f'<div style="width:{width / scale * 100:.2f}%;height:14px;border-radius:7px;'
        f'background:{COLORS[level(status)]}"></div>{ticks}</div>'
    )


def path_frame(status: BudgetStatus, conv: Conversion | None = None) -> pd.DataFrame:
    """Per day: cumulative spend (actual or forecast) and the band, floats for plotting (in the
    conversion's currency when given; the columns keep their names)."""
    shown = (conv or Conversion()).amount
    rows = [
        {
            "day": p.day,
            "cumulative_usd": float(shown(p.cumulative_usd)),
            "low_usd": float(shown(p.low_usd)),
            "high_usd": float(shown(p.high_usd)),
            "is_forecast": p.is_forecast,
        }
        for p in forecast_path(status.forecast)
    ]
    return pd.DataFrame(rows)


def _threshold_lines(fig: go.Figure, status: BudgetStatus, conv: Conversion) -> None:
    budget = conv.amount(status.amount_usd)
    for t in status.thresholds_pct:
        amount = float(budget * Decimal(t) / 100)
        is_budget = t == 100
        fig.add_hline(
            y=amount,
            line={
                "color": BUDGET if is_budget else "#888",
                "dash": "solid" if is_budget else "dot",
            },
            annotation_text=_budget_text(amount, conv) if is_budget else f"{t} %",
            annotation_position="top left",
        )
    if 100 not in status.thresholds_pct:
        amount = float(budget)
        fig.add_hline(y=amount, line={"color": BUDGET}, annotation_text=_budget_text(amount, conv))


def _budget_text(amount: float, conv: Conversion) -> str:
    """'budget $500' or 'budget 475 EUR'."""
    return f"budget {amount:,.0f} {conv.currency}" if conv.converted else f"budget ${amount:,.0f}"


def forecast_figure(
    status: BudgetStatus, title: str | None = None, conv: Conversion | None = None
) -> go.Figure:
    """Cumulative actual spend, the forecast to month end with its 90 % band, budget lines (in
    the conversion's currency when given)."""
    conv = conv or Conversion()
    df = path_frame(status, conv)
    actual = df[~df["is_forecast"]]
    future = df[df["is_forecast"]]
    if not actual.empty and not future.empty:
        future = pd.concat([actual.tail(1), future])  # join the lines at today
    fig = go.Figure()
    if not future.empty:
        fig.add_trace(go.Scatter(x=future["day"], y=future["high_usd"], line={"width": 0}, mode="lines",
                                 showlegend=False, hoverinfo="skip"))  # fmt: skip
        fig.add_trace(go.Scatter(x=future["day"], y=future["low_usd"], line={"width": 0}, mode="lines",
                                 fill="tonexty", fillcolor=BAND, name="90 % interval"))  # fmt: skip
        fig.add_trace(go.Scatter(x=future["day"], y=future["cumulative_usd"], name="forecast", mode="lines",
                                 line={"color": FORECAST, "dash": "dash"}))  # fmt: skip
    fig.add_trace(go.Scatter(x=actual["day"], y=actual["cumulative_usd"], name="actual", mode="lines",
                             line={"color": ACTUAL, "width": 3}))  # fmt: skip
    _threshold_lines(fig, status, conv)
    if conv.converted:
        fig.update_yaxes(title=f"Cumulative spend ({conv.currency})", rangemode="tozero")
    else:
        fig.update_yaxes(title="Cumulative spend (USD)", tickprefix="$", rangemode="tozero")
    fig.update_xaxes(range=[status.forecast.month_start, status.forecast.month_end])
    return style(fig, title=title)
