"""Usage page charts: each takes a frame from `db.queries` and returns a Vega-Lite chart
(through Altair); the page's tables are in `ui.usage_tables`.

Money arrives as integer pico-dollars; it becomes float USD here (or float money of the
display currency, given a `Conversion`), for chart axes and tables only. Models are canonical
ids (`model_id`); only the drill-down table shows the names each was logged under.
Each chart is built from one tidy frame (one row per mark), names from logs as they are: Vega
draws them as text.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from core.currency import BASE, Conversion
from core.stats import OUTPUT_EDGES_TOKENS
from ui.charts import (
    COUNT_FORMAT,
    PALETTE,
    TOKEN_FORMAT,
    color_scale,
    day_tooltip,
    day_values,
    day_x,
    empty,
    money_tooltip_format,
    series_colors,
    style,
    usd_float,
)
from ui.charts.axes import money_axis
from ui.format import in_currency

NONE_LABEL = "(none)"
PICK = "day_model"  # the daily spend chart's click selection: the day ("date") and model of a bar
TOP_FEATURES = 15  # features drawn in a colour of their own in the spend-by-project chart
OTHER_COLOR = "#B8BCC4"  # the segment of all other features
TOKEN_PARTS = {
    "uncached_input_tokens": "Input (uncached)",
    "cached_input_tokens": "Input (cached)",
    "cache_write_tokens": "Cache writes",
    "output_tokens": "Output",
}
LATENCY_LINES = (("p95_ms", "P95", PALETTE[0], [1, 0]), ("p50_ms", "P50", PALETTE[1], [2, 3]))
LATENCY_PANEL = {"width": 330, "height": 150}  # one model's panel in the latency small multiples
LEGEND_PX = 700  # the width a legend's columns may take: the page's at a 1280 px wide window


def money_float(picos: pd.Series, conv: Conversion | None = None) -> pd.Series:
    """Pico-dollars as float money in the conversion's currency (USD without one)."""
    usd = usd_float(picos)
    return usd * float(conv.rate.per_usd) if conv and conv.rate else usd


def code(conv: Conversion | None) -> str:
    """The currency figures are drawn in."""
    return conv.currency if conv else BASE


def spend_column(conv: Conversion | None = None) -> str:
    """The header of a table's spend column: 'Spend (USD)', 'Spend (EUR)'."""
    return f"Spend ({code(conv)})"


def _currency(conv: Conversion | None) -> str | None:
    """The code of the currency money is drawn in, None for USD."""
    return conv.currency if conv is not None and conv.converted else None


def _money_axis(
    values: pd.Series, conv: Conversion | None, *, title: str | None = None, headroom: bool = False
) -> dict[str, Any]:
    """`money_axis` (round ticks) in the conversion's currency, titled with the currency code
    unless `title` says otherwise."""
    return money_axis(
        values, headroom=headroom, title=title or code(conv), currency=_currency(conv)
    )


def _money_tooltip(
    field: str, values: pd.Series, conv: Conversion | None, title: str = "Spend"
) -> alt.Tooltip:
    """A money field in a tooltip: '$0.0035' for USD; '0.0032' titled 'Spend (EUR)' otherwise."""
    currency = _currency(conv)
    return alt.Tooltip(
        f"{field}:Q",
        title=title if currency is None else f"{title} ({currency})",
        **money_tooltip_format(values, currency),
    )


def shown_label(values: pd.Series) -> pd.Series:
    """Empty project or feature names shown as '(none)'."""
    return values.astype(str).replace("", NONE_LABEL)


def _legend(names: list[str]) -> alt.Legend:
    """A legend on top in as many columns as fit the page's width (rows wrap, never clip)."""
    entry_px = 34 + 6.5 * max((len(name) for name in names), default=1)
    return alt.Legend(columns=max(1, min(len(names), int(LEGEND_PX // entry_px))))


def _series(colors: dict[Any, str]) -> alt.Color:
    """A colour per series in the order `series_colors` gave them (legend in that order)."""
    order = [str(name) for name in colors]
    return alt.Color(
        "series:N", scale=color_scale(colors), sort=order, title=None, legend=_legend(order)
    )


def _stacked(frame: pd.DataFrame, order: dict[Any, str]) -> pd.DataFrame:
    """`frame` with its `series` column as text and its place in the stack (first lowest)."""
    rank = {str(name): i for i, name in enumerate(order)}
    series = frame["series"].astype(str)
    return frame.assign(series=series, stack=series.map(rank))


def daily_cost_by_model(daily: pd.DataFrame, conv: Conversion | None = None) -> Any:
    """Stacked bars: spend per day, one distinct colour per model (largest spend first, lowest
    in the stack). A click on a bar selects its `date` (ISO day) and `model_id` (`PICK`)."""
    if daily.empty:
        return empty()
    frame = daily.groupby(["day", "model_id"], as_index=False, sort=False)["cost_pusd"].sum()
    spend = frame.groupby("model_id")["cost_pusd"].sum().sort_values(ascending=False, kind="stable")
    colors = series_colors(str(model) for model in spend.index)
    days = day_values(frame["day"])
    bars = _stacked(
        pd.DataFrame(
            {
                "day": days,
                "date": days.dt.strftime("%Y-%m-%d"),
                "series": frame["model_id"],
                "spend": money_float(frame["cost_pusd"], conv),
            }
        ),
        colors,
    )
    bars["model_id"] = bars["series"]
    per_day = bars.groupby("date")["spend"].sum()
    pick = alt.selection_point(name=PICK, fields=["date", "model_id"])
    chart = (
        alt.Chart(bars)
        .mark_bar(cursor="pointer")
        .encode(
            x=day_x(),
            y=alt.Y("spend:Q", stack="zero", **_money_axis(per_day, conv)),
            color=_series(colors),
            order=alt.Order("stack:Q"),
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.45)),
            tooltip=[
                day_tooltip(),
                alt.Tooltip("model_id:N", title="Model"),
                _money_tooltip("spend", per_day, conv),
            ],
        )
        .add_params(pick)
    )
    return style(chart)


def tokens_per_day(totals: pd.DataFrame) -> Any:
    """Stacked bars: uncached input, cached input, cache writes and output tokens per day."""
    parts = {name: column for column, name in TOKEN_PARTS.items() if totals[column].sum() > 0}
    if totals.empty or not parts:
        return empty()
    days = day_values(totals["day"])
    colors = series_colors(parts)
    frame = _stacked(
        pd.concat(
            pd.DataFrame({"day": days, "series": name, "tokens": totals[column].astype("int64")})
            for name, column in parts.items()
        ),
        colors,
    )
    chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=day_x(),
            y=alt.Y("tokens:Q", stack="zero", title="tokens", axis=alt.Axis(format=TOKEN_FORMAT)),
            color=_series(colors),
            order=alt.Order("stack:Q"),
            tooltip=[
                day_tooltip(),
                alt.Tooltip("series:N", title="Tokens of"),
                alt.Tooltip("tokens:Q", title="Tokens", format=","),
            ],
        )
    )
    return style(chart)


def _bars_and_line(
    frame: pd.DataFrame, bars: alt.Chart, line: alt.Chart, names: tuple[str, str]
) -> Any:
    """A daily bar series (left axis) and a share drawn as a line (right axis), one legend."""
    color = _series(series_colors(names))
    bars = bars.transform_calculate(series=json.dumps(names[0])).encode(x=day_x(), color=color)
    line = line.transform_calculate(series=json.dumps(names[1]))
    line = line.encode(x=day_x().bandPosition(0.5), color=color)
    return alt.layer(bars, line, data=frame).resolve_scale(y="independent")


def _share_y(field: str, title: str, ticks: str) -> alt.Y:
    """A share (0..1) on the right axis, from zero, without a grid of its own."""
    axis = alt.Axis(format=ticks, orient="right", grid=False)
    return alt.Y(f"{field}:Q", title=title, scale=alt.Scale(zero=True), axis=axis)


def errors_per_day(totals: pd.DataFrame) -> Any:
    """429 responses per day (bars) and the error rate (line, right axis)."""
    if totals.empty:
        return empty()
    frame = pd.DataFrame(
        {
            "day": day_values(totals["day"]),
            "rate_limited": totals["rate_limited"].astype("int64"),
            "error_share": totals["error_share"].astype("float64"),
        }
    )
    count = alt.Axis(format=COUNT_FORMAT, tickMinStep=1)
    bars = (
        alt.Chart()
        .mark_bar()
        .encode(
            y=alt.Y("rate_limited:Q", title="429s", axis=count),
            tooltip=[
                day_tooltip(),
                alt.Tooltip("rate_limited:Q", title="429 responses", format=","),
            ],
        )
    )
    line = (
        alt.Chart()
        .mark_line(point=True)
        .encode(
            y=_share_y("error_share", "error rate", ".1~%"),
            tooltip=[day_tooltip(), alt.Tooltip("error_share:Q", title="Error rate", format=".2%")],
        )
    )
    return style(_bars_and_line(frame, bars, line, ("429 responses", "Error rate (status ≥ 400)")))


def latency_per_day(latency: pd.DataFrame, columns: int = 2) -> Any:
    """Small multiples: one panel per model with its P95 (solid) and P50 (dotted) per day."""
    if latency.empty:
        return empty()
    models = sorted({str(m) for m in latency["model_id"]})
    days = day_values(latency["day"])
    frame = pd.concat(
        pd.DataFrame(
            {
                "day": days,
                "model_id": latency["model_id"].astype(str),
                "line": label,
                "ms": latency[column].astype("float64"),
            }
        )
        for column, label, _, _ in LATENCY_LINES
    )
    labels = [label for _, label, _, _ in LATENCY_LINES]
    legend = alt.Legend(symbolType="stroke", symbolStrokeWidth=2)  # a solid and a dotted line

    def by_line(channel: type, looks: list[Any]) -> Any:
        scale = alt.Scale(domain=labels, range=looks)
        return channel("line:N", sort=labels, title=None, legend=legend, scale=scale)

    look = {
        "color": by_line(alt.Color, [color for *_, color, _ in LATENCY_LINES]),
        "strokeDash": by_line(alt.StrokeDash, [dash for *_, dash in LATENCY_LINES]),
    }
    base = alt.Chart().encode(
        x=day_x(), y=alt.Y("ms:Q", title=None, axis=alt.Axis(format=COUNT_FORMAT)), **look
    )
    lines = base.mark_line()
    hover = base.mark_point(size=70, filled=True, opacity=0).encode(
        tooltip=[
            day_tooltip(),
            alt.Tooltip("model_id:N", title="Model"),
            alt.Tooltip("line:N", title="Percentile"),
            alt.Tooltip("ms:Q", title="Latency (ms)", format=",.0f"),
        ]
    )
    header = alt.Header(title=None, labelAnchor="start", labelFontSize=12, labelLimit=360)
    chart = (
        alt.layer(lines, hover, data=frame)
        .properties(**LATENCY_PANEL)
        .facet(facet=alt.Facet("model_id:N", sort=models, header=header), columns=columns)
        .resolve_scale(y="independent")
    )
    return style(chart, height=None)


def cost_by_project(by_project: pd.DataFrame, conv: Conversion | None = None) -> Any:
    """Horizontal stacked bars: spend per project split by feature, each total written at the
    end of its bar. The TOP_FEATURES features with the most spend get a colour each; the rest
    share one segment per project (the table below the chart lists every feature)."""
    if by_project.empty:
        return empty()
    frame = pd.DataFrame(
        {
            "project": shown_label(by_project["project"]),
            "series": shown_label(by_project["feature"]),
            "spend": money_float(by_project["cost_pusd"], conv),
        }
    )
    spend = frame.groupby("series")["spend"].sum().sort_values(ascending=False, kind="stable")
    features = spend.index.tolist()
    colors = series_colors(features[:TOP_FEATURES])
    if len(features) > TOP_FEATURES:  # the rest: one grey segment, last on each bar
        rest = f"{len(features) - TOP_FEATURES} other features"
        kept = frame["series"].isin(features[:TOP_FEATURES])
        frame["series"] = frame["series"].where(kept, rest)
        frame = frame.groupby(["project", "series"], as_index=False, sort=False)["spend"].sum()
        colors[rest] = OTHER_COLOR
    frame = _stacked(frame, colors)
    totals = frame.groupby("project")["spend"].sum().sort_values(ascending=False, kind="stable")
    ends = pd.DataFrame(
        {
            "project": totals.index,
            "spend": totals.to_numpy(),
            "total": [_total_text(amount, conv) for amount in totals],
        }
    )
    y = alt.Y("project:N", sort=totals.index.tolist(), title=None, axis=alt.Axis(labelLimit=320))
    bars = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("spend:Q", stack="zero", **_money_axis(totals, conv, headroom=True)),
            y=y,
            color=_series(colors),
            order=alt.Order("stack:Q"),
            tooltip=[
                alt.Tooltip("project:N", title="Project"),
                alt.Tooltip("series:N", title="Feature"),
                _money_tooltip("spend", frame["spend"], conv),
            ],
        )
    )
    text = (
        alt.Chart(ends)
        .mark_text(align="left", dx=6, fontSize=11)
        .encode(x="spend:Q", y=y, text="total:N")
    )
    # sized by its plot area (the legend and axis add to it): 32 px a bar
    layers = alt.layer(bars, text).properties(
        autosize=alt.AutoSizeParams(type="fit-x", contains="padding")
    )
    return style(layers, height=32 * len(totals))


def _total_text(amount: float, conv: Conversion | None) -> str:
    """A bar's total at its end: $12.34, or 11.11 EUR."""
    return in_currency(Decimal(str(round(amount, 2))), code(conv))


def caching_savings(totals: pd.DataFrame, conv: Conversion | None = None) -> Any:
    """Money saved by cached input per day (bars) and the cached share of input (line)."""
    if totals.empty:
        return empty()
    inputs = totals["input_tokens"].where(totals["input_tokens"] > 0)
    frame = pd.DataFrame(
        {
            "day": day_values(totals["day"]),
            "saved": money_float(totals["cache_savings_pusd"], conv),
            "cached_share": (totals["cached_input_tokens"] / inputs).astype("float64"),
        }
    )
    title = f"{code(conv)} saved"
    bars = (
        alt.Chart()
        .mark_bar()
        .encode(
            y=alt.Y("saved:Q", **_money_axis(frame["saved"], conv, title=title)),
            tooltip=[day_tooltip(), _money_tooltip("saved", frame["saved"], conv, "Saved")],
        )
    )
    line = (
        alt.Chart()
        .mark_line(point=alt.OverlayMarkDef(size=50, opacity=0))
        .encode(
            y=_share_y("cached_share", "cached share", ".0%"),
            tooltip=[
                day_tooltip(),
                alt.Tooltip("cached_share:Q", title="Cached share of input", format=".1%"),
            ],
        )
    )
    return style(_bars_and_line(frame, bars, line, ("Saved by caching", "Cached share of input")))


def failure_cost_per_day(by_day: pd.DataFrame, conv: Conversion | None = None) -> Any:
    """Stacked bars: spend on failed calls and estimated retry spend per day."""
    if by_day.empty or (by_day["failed_pusd"].sum() == 0 and by_day["retry_pusd"].sum() == 0):
        return empty()
    days = day_values(by_day["day"])
    parts = {"Failed calls": "failed_pusd", "Retries (estimate)": "retry_pusd"}
    colors = series_colors(parts)
    frame = _stacked(
        pd.concat(
            pd.DataFrame({"day": days, "series": name, "spend": money_float(by_day[column], conv)})
            for name, column in parts.items()
        ),
        colors,
    )
    per_day = frame.groupby("day")["spend"].sum()
    chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=day_x(),
            y=alt.Y("spend:Q", stack="zero", **_money_axis(per_day, conv)),
            color=_series(colors),
            order=alt.Order("stack:Q"),
            tooltip=[
                day_tooltip(),
                alt.Tooltip("series:N", title="Spent on"),
                _money_tooltip("spend", frame["spend"], conv),
            ],
        )
    )
    return style(chart)


def _token_range(low: float, high: float) -> str:
    """The whole token counts of a bucket [low, high): '1,000–1,099', '7', or '198,731+' for
    the open-ended top bucket (high NaN)."""
    first = math.ceil(low)
    if math.isnan(high):
        return f"{first:,}+"
    last = math.ceil(high) - 1
    return f"{first:,}" if last <= first else f"{first:,}–{last:,}"


def _log_ticks(low: float, high: float) -> list[float]:
    """Ticks of a log axis at 1, 2 and 5 times each power of ten from `low` to `high`."""
    first, last = math.floor(math.log10(max(low, 1.0))), math.ceil(math.log10(max(high, 1.0)))
    steps = (10**power * m for power in range(first, last + 1) for m in (1, 2, 5))
    return [float(t) for t in steps if t <= 10**last]


def output_distribution(histogram: pd.DataFrame, suggested_tokens: int | None) -> Any:
    """Responses per output-token bucket (log axis), with the suggested max_tokens marked."""
    if histogram.empty:
        return empty()
    edges, buckets = OUTPUT_EDGES_TOKENS, histogram["bucket"].to_numpy(np.int64)
    top = len(edges) - 1
    start = edges[np.minimum(buckets, top)]
    end = np.where(buckets < top, edges[np.minimum(buckets + 1, top)], np.nan)
    low = np.maximum(start, 1.0)  # a log axis starts at 1 token
    frame = pd.DataFrame(
        {
            "low": low,
            "high": np.fmax(end, low * 1.05),  # the top bucket, open-ended, gets a width
            "responses": histogram["count"].to_numpy(np.int64),
            "tokens": [_token_range(a, b) for a, b in zip(start, end, strict=True)],
        }
    )
    reach = [float(low.min()), float(frame["high"].max()), float(suggested_tokens or 1)]
    x = alt.X(
        "low:Q",
        title="output tokens",
        scale=alt.Scale(type="log"),
        axis=alt.Axis(format=TOKEN_FORMAT, values=_log_ticks(min(reach), max(reach))),
    )
    bars = (
        alt.Chart(frame)
        .mark_bar(color=PALETTE[0], opacity=0.6)
        .encode(
            x=x,
            x2="high:Q",
            y2=alt.datum(0),
            y=alt.Y(
                "responses:Q", title="responses", axis=alt.Axis(format=COUNT_FORMAT, tickMinStep=1)
            ),
            tooltip=[
                alt.Tooltip("tokens:N", title="Output tokens"),
                alt.Tooltip("responses:Q", title="Responses", format=","),
            ],
        )
    )
    if not suggested_tokens:
        return style(bars)
    mark = pd.DataFrame(
        {"low": [float(suggested_tokens)], "label": [f"suggested max_tokens {suggested_tokens:,}"]}
    )
    rule = alt.Chart(mark).mark_rule(strokeDash=[6, 4], color="#444").encode(x="low:Q")
    text = alt.Chart(mark).mark_text(align="right", baseline="top", dx=-6, dy=4, color="#444")
    text = text.encode(x="low:Q", y=alt.value(0), text="label:N")
    return style(alt.layer(bars, rule, text))
