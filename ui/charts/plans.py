"""Charts for the cost calculator: projection, split, models, tornado, heat map, chats, scenarios.

Money arrives as exact `Decimal` in the frames; it becomes float only here, for drawing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import altair as alt
import pandas as pd

from ui.charts import COUNT_FORMAT, color_scale, empty, floats, money_hover, style
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
MODEL_GROUPS = {
    "Selected": SELECTED,
    "Too small for the request": TOO_SMALL,
    "Other models": OTHER,
}
SIDES = {"Cheaper than the plan": CHEAPER, "Dearer than the plan": DEARER}
CHEAPER_SIDE, DEARER_SIDE = SIDES
# A part of the split bar narrower than this share of the month has no room for its label.
LABEL_MIN_SHARE = 0.08
LABEL_LIMIT = 320  # pixels of a model or driver name before it is cut with an ellipsis


def _colors(colors: dict[str, str], title: str | None = None, **legend: Any) -> dict[str, Any]:
    """A colour channel's scale (fixed colours, in this order) and legend."""
    return {
        "scale": color_scale(colors),
        "sort": list(colors),
        "legend": alt.Legend(title=title, **legend),
    }


def _money(values: Sequence[float], **axis: Any) -> dict[str, Any]:
    """`money_axis` scale and axis, with more axis settings (a side, no grid)."""
    channel = money_axis(values, title=axis.pop("title", None))
    for name, value in axis.items():
        setattr(channel["axis"], name, value)
    return channel


def projection_chart(frame: pd.DataFrame) -> Any:
    """Monthly cost bars with the cumulative total as a line on a second axis."""
    data = pd.DataFrame(
        {
            "month": frame["month"].astype(int),
            "monthly_usd": floats(frame["monthly_usd"]),
            "cumulative_usd": floats(frame["cumulative_usd"]),
        }
    )
    hover = money_hover(data["cumulative_usd"])
    tooltip = [
        alt.Tooltip("month:O", title="Month"),
        alt.Tooltip("monthly_usd:Q", title="Monthly cost", format=hover),
        alt.Tooltip("cumulative_usd:Q", title="Cumulative", format=hover),
    ]
    # A legend per layer, so each entry is drawn as its mark: a square for the bars, a line
    # for the cumulative total (one shared legend draws both as circles).
    bar_color = alt.Color("series:N", **_colors({"Monthly cost": MONTHLY}))
    line_color = alt.Color("series:N", **_colors({"Cumulative": CUMULATIVE}, symbolType="stroke"))
    base = alt.Chart(data).encode(x=alt.X("month:O", title="Month", axis=alt.Axis(labelAngle=0)))
    bars = (
        base.mark_bar()
        .transform_calculate(series="'Monthly cost'")
        .encode(
            y=alt.Y("monthly_usd:Q", **_money(data["monthly_usd"], title="USD per month")),
            color=bar_color,
            tooltip=tooltip,
        )
    )
    line = (
        base.mark_line(point=True)
        .transform_calculate(series="'Cumulative'")
        .encode(
            y=alt.Y(
                "cumulative_usd:Q",
                **_money(
                    data["cumulative_usd"], title="Cumulative USD", orient="right", grid=False
                ),
            ),
            color=line_color,
            tooltip=tooltip,
        )
    )
    layers = alt.layer(bars, line).resolve_scale(y="independent", color="independent")
    return style(layers.resolve_legend(color="independent"), height=300)


def split_chart(parts: dict[str, object]) -> Any:
    """One horizontal stacked bar: the month's cost by what is billed, each part labelled."""
    usd_values = [float(parts[key]) for key in SPLIT]
    total = sum(usd_values)
    ends = pd.Series(usd_values).cumsum()
    data = pd.DataFrame(
        {
            "part": [label for label, _ in SPLIT.values()],
            "usd": usd_values,
            "start": ends - usd_values,
            "end": ends,
            "text": [
                usd(parts[key]) if parts[key] and v >= LABEL_MIN_SHARE * total else ""
                for key, v in zip(SPLIT, usd_values, strict=True)
            ],
        }
    )
    data["middle"] = (data["start"] + data["end"]) / 2
    money = money_axis([total])
    tooltip = [
        alt.Tooltip("part:N", title="Billed for"),
        alt.Tooltip("usd:Q", title="USD per month", format=money_hover(usd_values)),
    ]
    bars = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("start:Q", **money),
            x2="end:Q",
            color=alt.Color("part:N", **_colors({k: c for k, c in SPLIT.values()})),
            tooltip=tooltip,
        )
    )
    labels = (
        alt.Chart(data)
        .mark_text(color="white", fontSize=12)
        .encode(x=alt.X("middle:Q", **money), text="text:N", tooltip=tooltip)
    )
    return style(alt.layer(bars, labels), height=140)


def models_chart(frame: pd.DataFrame, limit: int = 25) -> Any:
    """The cheapest models (and the selected one) as horizontal bars of monthly cost, each
    labelled; the selected model and models too small for the request in their own colours."""
    shown = frame.head(limit)
    if not shown["selected"].any():
        shown = pd.concat([shown, frame[frame["selected"]]])
    if shown.empty:
        return empty()
    selected = shown["selected"].to_numpy(bool)
    too_small = shown["fits_context"].map(lambda f: f is False).to_numpy(bool) & ~selected
    groups = list(MODEL_GROUPS)
    data = pd.DataFrame(
        {
            "name": (shown["provider"] + " · " + shown["model"]).to_list(),
            "group": [
                groups[0] if s else groups[1] if t else groups[2]
                for s, t in zip(selected, too_small, strict=True)
            ],
            "monthly_usd": floats(shown["monthly_usd"]),
            "text": [usd(v) for v in shown["monthly_usd"]],
        }
    )
    y = alt.Y("name:N", title=None, sort=None, axis=alt.Axis(labelLimit=LABEL_LIMIT))
    x = alt.X(
        "monthly_usd:Q", **money_axis(data["monthly_usd"], headroom=True, title="USD per month")
    )
    tooltip = [
        alt.Tooltip("name:N", title="Model"),
        alt.Tooltip("monthly_usd:Q", title="USD a month", format=money_hover(data["monthly_usd"])),
    ]
    base = alt.Chart(data).encode(y=y, x=x, tooltip=tooltip)
    present = {g: c for g, c in MODEL_GROUPS.items() if g in set(data["group"])}
    bars = base.mark_bar().encode(color=alt.Color("group:N", **_colors(present)))
    labels = base.mark_text(align="left", dx=4, color="#444").encode(text="text:N")
    chart = alt.layer(bars, labels).properties(height=alt.Step(22))
    return style(chart, height=None)


def _tornado_ends(rows: pd.DataFrame, base: float) -> pd.DataFrame:
    """One row per bar end that moves the cost: the driver, its value and the month's cost."""
    ends = [
        {
            "driver": label,
            "usd": float(cost),
            "base_usd": base,
            "side": CHEAPER_SIDE if float(cost) < base else DEARER_SIDE,
            "text": f"{value}: {usd(cost)}",
        }
        for label, low, high, low_text, high_text in zip(
            rows["label"],
            rows["low_usd"],
            rows["high_usd"],
            rows["low_text"],
            rows["high_text"],
            strict=True,
        )
        for cost, value in ((low, low_text), (high, high_text))
        if float(cost) != base
    ]
    return pd.DataFrame(ends, columns=["driver", "usd", "base_usd", "side", "text"])


def tornado_chart(frame: pd.DataFrame) -> Any:
    """Each driver's low and high monthly cost around the base, widest bar on top: green
    where the driver's value makes the month cheaper, red where dearer, each end labelled
    with the driver's value and the month's cost."""
    if frame.empty:
        return empty()
    base = float(frame["base_usd"].iloc[0])
    ends = _tornado_ends(frame, base)
    costs = [*ends["usd"], base]
    spread = max(costs) - min(costs)
    # Room on both sides for the labels written outside the bars.
    widened = [*costs, max(0.0, min(costs) - 0.3 * spread), max(costs) + 0.3 * spread]
    drivers = list(frame["label"])
    y = alt.Y("driver:N", title=None, sort=drivers, scale=alt.Scale(domain=drivers))
    x = alt.X("usd:Q", **money_axis(widened, title="USD per month"))
    tooltip = [
        alt.Tooltip("driver:N", title="Driver"),
        alt.Tooltip("text:N", title="Value: monthly cost"),
    ]
    chart = alt.Chart(ends).encode(y=y, tooltip=tooltip)
    bars = chart.mark_bar().encode(
        x=x,
        x2="base_usd:Q",
        color=alt.Color(
            "side:N", **_colors({s: c for s, c in SIDES.items() if s in set(ends["side"])})
        ),
    )
    cheaper = alt.datum.usd < alt.datum.base_usd
    left = chart.mark_text(align="right", dx=-4, color="#444").encode(x=x, text="text:N")
    right = chart.mark_text(align="left", dx=4, color="#444").encode(x=x, text="text:N")
    line = (
        alt.Chart(pd.DataFrame({"base_usd": [base], "text": [f"Plan: {usd(base)}"]}))
        .mark_rule(strokeDash=[3, 3], color="#555")
        .encode(x=alt.X("base_usd:Q"), tooltip=alt.Tooltip("text:N", title="Base"))
    )
    layers = alt.layer(
        bars,
        left.transform_filter(cheaper),
        right.transform_filter(~cheaper),
        line,
    )
    return style(layers.properties(height=alt.Step(40)), height=None)


def heatmap_chart(grid: pd.DataFrame) -> Any:
    """Monthly cost over requests/day (rows) x output tokens (columns)."""
    rows = [str(i) for i in grid.index]
    columns = [str(c) for c in grid.columns]
    values = [[float(v) for v in row] for row in grid.to_numpy()]
    # one format for every cell: whole dollars when no cell is under $10, else cents throughout
    places = 0 if min((v for row in values for v in row if v), default=0.0) >= 10 else 2
    data = pd.DataFrame(
        [
            {
                "requests_per_day": r,
                "output_tokens": c,
                "usd": v,
                "text": f"${v:,.{places}f}",
                "exact": f"${v:,.2f}",
            }
            for r, row in zip(rows, values, strict=True)
            for c, v in zip(columns, row, strict=True)
        ],
        columns=["requests_per_day", "output_tokens", "usd", "text", "exact"],
    )
    top = max(data["usd"], default=0.0)
    base = alt.Chart(data).encode(
        x=alt.X(
            "output_tokens:O",
            title="Output tokens per request",
            sort=columns,
            axis=alt.Axis(labelAngle=0),
        ),
        y=alt.Y("requests_per_day:O", title="Requests per day", sort=rows[::-1]),
        tooltip=[
            alt.Tooltip("requests_per_day:O", title="Requests per day"),
            alt.Tooltip("output_tokens:O", title="Output tokens"),
            alt.Tooltip("exact:N", title="USD per month"),
        ],
    )
    cells = base.mark_rect().encode(
        color=alt.Color(
            "usd:Q",
            scale=alt.Scale(scheme="blues", domain=[0.0, top or 1.0]),
            legend=alt.Legend(title="USD/mo", format="$,.0f", orient="right"),
        )
    )
    labels = base.mark_text(fontSize=11).encode(
        text="text:N",
        color=alt.condition(alt.datum.usd > 0.6 * top, alt.value("white"), alt.value("#333")),
    )
    return style(alt.layer(cells, labels), height=380)


def conversation_chart(turns: pd.DataFrame) -> Any:
    """Input tokens sent at each turn under each history strategy."""
    if turns.empty:
        return empty()
    labels = dict(zip(turns["label"], turns["strategy"], strict=False))
    colors = {label: STRATEGY_COLORS.get(strategy, OTHER) for label, strategy in labels.items()}
    data = turns[["label", "turn", "input_tokens"]].astype({"turn": int, "input_tokens": int})
    chart = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=alt.X("turn:Q", title="Turn", axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y("input_tokens:Q", title="Input tokens sent", scale=alt.Scale(zero=True)),
            color=alt.Color("label:N", **_colors(colors)),
            tooltip=[
                alt.Tooltip("label:N", title="History"),
                alt.Tooltip("turn:Q", title="Turn"),
                alt.Tooltip("input_tokens:Q", title="Input tokens sent", format=COUNT_FORMAT),
            ],
        )
    )
    return style(chart, height=300)


def scenarios_chart(frame: pd.DataFrame) -> Any:
    """Monthly cost of each saved scenario, stacked by what is billed, totals on top."""
    names = [str(n) for n in frame["scenario"]]
    totals = [float(sum(parts)) for parts in zip(*(frame[key] for key in SPLIT), strict=True)]
    parts = pd.DataFrame(
        [
            {
                "scenario": name,
                "part": label,
                "order": i,
                "usd": float(value),
                "total_usd": total,
            }
            for i, (key, (label, _)) in enumerate(SPLIT.items())
            for name, value, total in zip(names, frame[key], totals, strict=True)
        ],
        columns=["scenario", "part", "order", "usd", "total_usd"],
    )
    ends = pd.DataFrame({"scenario": names, "total_usd": totals, "text": [usd(t) for t in totals]})
    x = alt.X("scenario:N", title=None, sort=names, axis=alt.Axis(labelAngle=0, labelLimit=240))
    y = money_axis(totals, headroom=True, title="USD per month")
    hover = money_hover(parts["usd"])
    bars = (
        alt.Chart(parts)
        .mark_bar()
        .encode(
            x=x,
            y=alt.Y("usd:Q", stack="zero", **y),
            color=alt.Color("part:N", **_colors({k: c for k, c in SPLIT.values()})),
            order=alt.Order("order:Q"),
            tooltip=[
                alt.Tooltip("scenario:N", title="Scenario"),
                alt.Tooltip("part:N", title="Billed for"),
                alt.Tooltip("usd:Q", title="USD per month", format=hover),
                alt.Tooltip("total_usd:Q", title="Scenario total", format=hover),
            ],
        )
    )
    labels = (
        alt.Chart(ends)
        .mark_text(baseline="bottom", dy=-4, color="#444")
        .encode(x=x, y=alt.Y("total_usd:Q", **y), text="text:N")
    )
    return style(alt.layer(bars, labels), height=320)
