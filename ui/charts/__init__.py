"""Chart builders (Vega-Lite through Altair): each takes a DataFrame and returns a chart,
testable without Streamlit (`chart.to_dict()` is the spec the browser draws).

One module per area (usage, plans, budgets, routing, prices); shared styling lives here: the
look, a palette with a distinct colour for every series of a chart, and axis formats (money
with thousands separators and no needless decimals, days without times, token counts).

Vega-Lite, not Plotly: a page's first chart loads the browser's charting code, and Vega's is a
sixth of Plotly's (0.8 MB against 4.7 MB); on a two-core machine a fresh page with six charts
was idle 1.7 s sooner. Vega draws names as text, never as markup, so a label from a log is shown
as itself without escaping.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import altair as alt
import pandas as pd

FONT = "Inter, system-ui, sans-serif"
# 24 colours distinct from each other (Plotly's, D3's and Dark24's, without near repeats), so a
# chart of up to 24 series never gives two of them one colour.
PALETTE = (
    "#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3", "#ff6692", "#b6e880",
    "#ff97ff", "#fecb52", "#1f77b4", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    "#2e91e5", "#e15f99", "#1ca71c", "#fb0d0d", "#da16ff", "#222a2a", "#b68100", "#750d86",
)  # fmt: skip
# d3-format and d3-time-format strings (Vega's): three significant digits, trailing zeros
# dropped, so ticks read $0.005, $20, $1,500.
MONEY_FORMAT = "$,.3~r"
PICOS_PER_USD = 1e12
COUNT_FORMAT = ",~r"
TOKEN_FORMAT = "~s"
DAY_FORMAT = "%d %b"
DAY_HOVER = "%a %d %b %Y"
EMPTY_TEXT = "No data for these filters"
# SVG rather than canvas: crisp at any zoom, and the marks are elements a browser test can find.
EMBED = {"embedOptions": {"renderer": "svg"}}

Chart = alt.TopLevelMixin  # what every builder returns: a chart, a layer, a facet or a concat


def _config() -> alt.Config:
    """The look every chart shares (font, palette, legend on top, quiet frame and axes)."""
    return alt.Config(
        font=FONT,
        range=alt.RangeConfig(category=list(PALETTE)),
        legend=alt.LegendConfig(orient="top", title=None, labelLimit=320, symbolLimit=60),
        view=alt.ViewConfig(stroke=None),
        axis=alt.AxisConfig(labelFontSize=11, titleFontSize=12, titleFontWeight="normal"),
    )


def style(chart: Any, *, title: str | None = None, height: int | None = 360) -> Any:
    """Common look, applied last to a finished chart: its height (the whole chart's, legend and
    axes included: Streamlit fits a single or layered chart into it; a facet or a concat sizes
    its own panels, so pass height=None), the title, font, palette, legend on top. The config
    is set once rather than through `.configure_*`, each of which copies the chart."""
    properties: dict[str, Any] = {"usermeta": EMBED}
    if height is not None:
        properties["height"] = height
    if title:
        properties["title"] = alt.TitleParams(title, anchor="start", fontSize=14)
    chart = chart.properties(**properties)
    chart.config = _config()
    return chart


def empty(title: str | None = None, text: str = EMPTY_TEXT) -> Any:
    """A blank chart saying there is nothing to draw."""
    chart = (
        alt.Chart(pd.DataFrame({"text": [text]}))
        .mark_text(fontSize=14, color="#666")
        .encode(text="text:N")
    )
    return style(chart, title=title, height=240)


def series_colors(names: Iterable[object]) -> dict[object, str]:
    """A colour per series, distinct within a chart (in the order given; cycles past 24)."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(dict.fromkeys(names))}


def color_scale(colors: Mapping[object, str]) -> alt.Scale:
    """A Vega scale giving each series the colour `series_colors` chose, in that order."""
    return alt.Scale(domain=[str(n) for n in colors], range=list(colors.values()))


def money_hover(values: Iterable[float]) -> str:
    """The tooltip format of a money series: cents, or four decimals where cents would hide
    every value (a chart of $0.0035 calls)."""
    top = max((abs(float(v)) for v in values), default=0.0)
    return "$,.2f" if top >= 0.01 or top == 0 else "$,.4~f"


def money_ticks(currency: str | None = None, digits: str = MONEY_FORMAT) -> dict[str, str]:
    """Axis settings of a money axis with d3 `digits` ("$,.3~r", "$,.2f"): a $ prefix for USD
    (None), the code after the figure otherwise ('1.5k EUR' is not d3-format, so a label
    expression writes it)."""
    if currency is None or currency == "USD":
        return {"format": digits}
    return {"labelExpr": f"format(datum.value, '{digits.removeprefix('$')}') + ' {currency}'"}


def usd_float(picos: pd.Series) -> pd.Series:
    """Pico-dollar integers as float USD (display only)."""
    return picos.astype("float64") / PICOS_PER_USD


def floats(values: Iterable[object]) -> list[float]:
    """Amounts (Decimals, ints, None) as floats for a chart, None as 0."""
    return [float(v) if v is not None else 0.0 for v in values]


def money_tooltip_format(values: Iterable[float], currency: str | None = None) -> dict[str, str]:
    """Tooltip settings of a money field: `money_hover` for USD; the same digits without the $
    for another currency (its code goes in the field's title)."""
    hover = money_hover(values)
    if currency is None or currency == "USD":
        return {"format": hover}
    return {"format": hover.removeprefix("$")}


def day_x(field: str = "day", *, title: str | None = None, **axis: Any) -> alt.X:
    """A day axis: one band per UTC day (bars fill their day), ticks like '02 Nov'."""
    return alt.X(
        f"utcyearmonthdate({field}):T",
        title=title,
        axis=alt.Axis(format=DAY_FORMAT, labelOverlap=True, **axis),
    )


def day_tooltip(field: str = "day", title: str = "Day") -> alt.Tooltip:
    """A day in a tooltip: 'Mon 02 Nov 2026'."""
    return alt.Tooltip(f"utcyearmonthdate({field}):T", title=title, format=DAY_HOVER)


def day_values(days: pd.Series) -> pd.Series:
    """Stored days (dates, or ISO text from SQLite) as UTC midnight timestamps for a day axis."""
    return pd.to_datetime(days.astype(str).str.slice(0, 10), utc=True)


def draw(chart: Any, *, key: str, **selection: Any) -> Any:
    """Show a chart full width (the one place pages draw charts; `selection` passes
    `on_select` and `selection_mode` through). Returns the selection state when selectable."""
    import streamlit as st

    chart = chart.properties(usermeta={**EMBED, "key": key})  # names the chart in its spec
    return st.altair_chart(chart, key=key, width="stretch", **selection)
