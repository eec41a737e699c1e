"""The chart base: round money ticks, currency labels, day axes, distinct colours, one look."""

from __future__ import annotations

from datetime import date

import altair as alt
import pandas as pd

from ui.charts import (
    PALETTE,
    color_scale,
    day_tooltip,
    day_values,
    day_x,
    empty,
    money_hover,
    money_ticks,
    money_tooltip_format,
    series_colors,
    style,
)
from ui.charts.axes import money_axis


def _axis(values: list[float], **options: object) -> tuple[list[float], list[float], str]:
    found = money_axis(values, **options)
    scale, axis = found["scale"].to_dict(), found["axis"].to_dict()
    return scale["domain"], axis["values"], axis["format"]


def test_money_axes_tick_on_round_amounts() -> None:
    # $730 over five ticks: 146 a tick, rounded up to 200; the axis ends at the tick above
    assert _axis([0.0, 730.0]) == ([0.0, 800.0], [0.0, 200.0, 400.0, 600.0, 800.0], "$,.0f")
    # headroom for labels outside the bars: $70 left above $730 is under 15 % of $800
    domain, ticks, _ = _axis([0.0, 730.0], headroom=True)
    assert domain == [0.0, 1000.0] and ticks[-1] == 1000.0 and len(ticks) == 6
    # cents only when the step has them: $0.034 ticks every $0.01
    assert _axis([0.012, 0.034]) == ([0.0, 0.04], [0.0, 0.01, 0.02, 0.03, 0.04], "$,.2f")
    # below zero: $550 of span ticks every $200, from the round tick under -$130 to the one
    # above $420
    assert _axis([-130.0, 420.0])[0] == [-200.0, 600.0]


def test_money_labels_name_their_currency() -> None:
    assert money_ticks() == {"format": "$,.3~r"} == money_ticks("USD")
    assert money_ticks("EUR") == {"labelExpr": "format(datum.value, ',.3~r') + ' EUR'"}
    # tooltips keep the decimals cents would hide ($0.0035 a call)
    assert money_hover([0.5, 120.0]) == "$,.2f"
    assert money_hover([0.0035, 0.009]) == "$,.4~f"
    assert money_tooltip_format([0.0035], "EUR") == {"format": ",.4~f"}


def test_days_are_utc_bands_read_from_dates_or_text() -> None:
    shown = day_values(pd.Series([date(2026, 1, 14), "2026-01-15", "2026-01-16 00:00:00"]))
    assert [t.isoformat() for t in shown] == [
        "2026-01-14T00:00:00+00:00",
        "2026-01-15T00:00:00+00:00",
        "2026-01-16T00:00:00+00:00",
    ]
    axis = day_x().to_dict()
    assert (axis["field"], axis["timeUnit"], axis["axis"]["format"]) == (
        "day",
        "utcyearmonthdate",
        "%d %b",
    )
    assert day_tooltip().to_dict()["format"] == "%a %d %b %Y"


def test_every_series_gets_its_own_colour_in_the_given_order() -> None:
    names = [f"feature-{i}" for i in range(len(PALETTE) + 1)]
    colors = series_colors(names)
    assert len(set(list(colors.values())[: len(PALETTE)])) == len(PALETTE) == 24
    assert colors["feature-24"] == colors["feature-0"]  # the 25th series cycles
    scale = color_scale({"b": "#111111", "a": "#222222"}).to_dict()
    assert scale == {"domain": ["b", "a"], "range": ["#111111", "#222222"]}


def test_a_styled_chart_is_a_valid_spec_drawn_as_svg() -> None:
    frame = pd.DataFrame({"day": day_values(pd.Series(["2026-01-14"])), "usd": [1.5]})
    spec = style(alt.Chart(frame).mark_bar().encode(x=day_x(), y="usd:Q"), title="Spend").to_dict()
    assert spec["usermeta"]["embedOptions"]["renderer"] == "svg"
    assert spec["height"] == 360 and spec["title"]["text"] == "Spend"
    assert spec["config"]["range"]["category"] == list(PALETTE)
    blank = empty().to_dict()
    assert blank["mark"]["type"] == "text" and blank["height"] == 240


def test_chargeback_ticks_read_as_money_in_the_report_currency() -> None:
    from ui.charts.chargeback import centres_figure

    frame = pd.DataFrame({"Cost centre": ["copilot"], "Spend": [170.23], "unallocated": [False]})
    usd = centres_figure(frame, "USD").to_dict()["encoding"]
    assert usd["x"]["axis"] == {"format": "$,.3~r"} and usd["tooltip"][1]["format"] == "$,.2f"
    eur = centres_figure(frame, "EUR").to_dict()["encoding"]
    assert eur["x"]["axis"]["labelExpr"].endswith("' EUR'") and eur["x"]["title"] == "Spend (EUR)"
