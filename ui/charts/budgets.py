"""Budget charts: the month's cumulative spend vs forecast vs budget, and coloured progress bars."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import partial
from html import escape

import altair as alt
import pandas as pd

from core.currency import Conversion
from core.forecast import BudgetStatus, Forecast, forecast_path
from ui.charts import (
    DAY_FORMAT,
    Chart,
    day_tooltip,
    day_values,
    money_ticks,
    money_tooltip_format,
    style,
)

COLORS = {"ok": "#2e9e5b", "warn": "#e0a800", "high": "#f07b16", "over": "#d64545"}
ACTUAL, FORECAST, BAND, BUDGET = "#3266c8", "#3266c8", "rgba(50,102,200,0.22)", "#d64545"
THRESHOLD = "#888888"
SERIES = ("actual", "forecast", "90 % interval")


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


def lines_frame(path: pd.DataFrame) -> pd.DataFrame:
    """One row per point of the two lines: `actual` to today, `forecast` from today (the
    forecast starts at today's actual point so the lines join)."""
    actual = path[~path["is_forecast"]]
    future = path[path["is_forecast"]]
    if not actual.empty and not future.empty:
        future = pd.concat([actual.tail(1), future])
    return pd.concat(
        [actual.assign(series="actual"), future.assign(series="forecast")], ignore_index=True
    )


def band_frame(path: pd.DataFrame) -> pd.DataFrame:
    """The 90 % band's rows: from today's actual point to the month's last day."""
    lines = lines_frame(path)
    return lines[lines["series"] == "forecast"].assign(series=SERIES[2])


def threshold_frame(status: BudgetStatus, conv: Conversion) -> pd.DataFrame:
    """One row per line across the chart: each threshold and the budget itself (100 %), with
    the label written above it."""
    budget = conv.amount(status.amount_usd)
    rows = [
        {"pct": t, "amount": float(budget * Decimal(t) / 100), "is_budget": t == 100}
        for t in status.thresholds_pct
    ]
    if 100 not in status.thresholds_pct:
        rows.append({"pct": 100, "amount": float(budget), "is_budget": True})
    for row in rows:
        row["label"] = _budget_text(row["amount"], conv) if row["is_budget"] else f"{row['pct']} %"
    return pd.DataFrame(rows, columns=["pct", "amount", "is_budget", "label"])


def _budget_text(amount: float, conv: Conversion) -> str:
    """'budget $500' or 'budget 475 EUR'."""
    return f"budget {amount:,.0f} {conv.currency}" if conv.converted else f"budget ${amount:,.0f}"


def _utc(day: date) -> alt.DateTime:
    return alt.DateTime(year=day.year, month=day.month, date=day.day, utc=True)


@dataclass(frozen=True)
class _Look:
    """What the layers of one forecast chart share: axes, and the money format of tooltips."""

    x: alt.X
    y: Callable[[str], alt.Y]
    money: dict[str, str]
    name: str


SERIES_COLOR = alt.Color(
    "series:N",
    scale=alt.Scale(domain=list(SERIES), range=[ACTUAL, FORECAST, BAND]),
    legend=alt.Legend(symbolType="stroke", symbolStrokeWidth=3, symbolSize=400),
)


def _month_x(forecast: Forecast) -> alt.X:
    """Days on a UTC time axis spanning the whole month."""
    domain = [_utc(forecast.month_start), _utc(forecast.month_end)]
    return alt.X(
        "day:T",
        title=None,
        scale=alt.Scale(type="utc", domain=domain),
        axis=alt.Axis(format=DAY_FORMAT, labelOverlap=True),
    )


def _money_y(field: str, *, title: str, currency: str | None) -> alt.Y:
    """The cumulative money axis from zero (every layer states it the same way)."""
    axis = alt.Axis(**money_ticks(currency))
    return alt.Y(f"{field}:Q", title=title, scale=alt.Scale(zero=True), axis=axis)


def forecast_figure(
    status: BudgetStatus, title: str | None = None, conv: Conversion | None = None
) -> Chart:
    """Cumulative actual spend, the forecast to month end with its 90 % band, budget lines (in
    the conversion's currency when given)."""
    conv = conv or Conversion()
    path = path_frame(status, conv)
    path["day"] = day_values(path["day"])
    rules = threshold_frame(status, conv)
    rules["day"] = day_values(pd.Series([status.forecast.month_start] * len(rules), dtype=object))
    currency = conv.currency if conv.converted else None
    name = f"Cumulative spend ({conv.currency})"
    look = _Look(
        x=_month_x(status.forecast),
        y=partial(_money_y, title=name, currency=currency),
        money=money_tooltip_format([*path["high_usd"], *rules["amount"]], currency),
        name=name,
    )
    layers = [_band_layer(path, look), _lines_layer(path, look), *_threshold_layers(rules, look)]
    return style(alt.layer(*layers), title=title)


def _band_layer(path: pd.DataFrame, look: _Look) -> alt.Chart:
    """The 90 % interval as a shaded area under the forecast."""
    return (
        alt.Chart(band_frame(path))
        .mark_area()
        .encode(
            x=look.x,
            y=look.y("low_usd"),
            y2="high_usd:Q",
            color=SERIES_COLOR,
            tooltip=[
                day_tooltip(),
                alt.Tooltip("low_usd:Q", title="90 % interval from", **look.money),
                alt.Tooltip("high_usd:Q", title="to", **look.money),
            ],
        )
    )


def _lines_layer(path: pd.DataFrame, look: _Look) -> alt.Chart:
    """Actual spend (solid, thick) and the forecast (dashed), joined at today."""
    return (
        alt.Chart(lines_frame(path))
        .mark_line()
        .encode(
            x=look.x,
            y=look.y("cumulative_usd"),
            color=SERIES_COLOR,
            strokeDash=alt.StrokeDash(
                "series:N", scale=alt.Scale(domain=list(SERIES), range=[[1, 0], [6, 4], [1, 0]])
            ),
            strokeWidth=alt.StrokeWidth(  # the band's width only draws its legend entry
                "series:N", scale=alt.Scale(domain=list(SERIES), range=[3, 2, 8]), legend=None
            ),
            tooltip=[
                day_tooltip(),
                alt.Tooltip("series:N", title="Spend"),
                alt.Tooltip("cumulative_usd:Q", title=look.name, **look.money),
            ],
        )
    )


def _threshold_layers(rules: pd.DataFrame, look: _Look) -> list[alt.Chart]:
    """A line across the chart per threshold (dotted grey; the budget solid red), each labelled
    at its left end."""
    color = alt.condition("datum.is_budget", alt.value(BUDGET), alt.value(THRESHOLD))
    tooltip = [
        alt.Tooltip("label:N", title="Line"),
        alt.Tooltip("amount:Q", title="Amount", **look.money),
    ]
    base = alt.Chart(rules)
    line = base.mark_rule().encode(
        y=look.y("amount"),
        color=color,
        strokeDash=alt.condition("datum.is_budget", alt.value([1, 0]), alt.value([2, 3])),
        strokeWidth=alt.condition("datum.is_budget", alt.value(2), alt.value(1)),
        tooltip=tooltip,
    )
    text = base.mark_text(align="left", baseline="bottom", dx=4, dy=-3, fontSize=11).encode(
        x=look.x, y=look.y("amount"), text="label:N", color=color, tooltip=tooltip
    )
    return [line, text]
