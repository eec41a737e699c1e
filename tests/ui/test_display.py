"""What the pages show at a glance: plain words for what was left out, values in their units,
distinct colours, round money ticks, small multiples, and tables without None or nan."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd

from core.logs.privacy import CONTENT_KEYS
from tests.app.charts import spec_rows
from ui import usage_tables
from ui.charts import PALETTE, money_hover, series_colors
from ui.charts import usage as charts
from ui.format import counts_text, measure
from ui.scrub import CONTENT_WORDS, scrub_lines


def test_every_content_field_has_plain_words() -> None:
    assert set(CONTENT_KEYS) <= set(CONTENT_WORDS)


def test_what_was_left_out_reads_as_sentences() -> None:
    lines = scrub_lines({"choices": 20, "messages": 20, "response.output": 3, "secret:user": 1})
    assert lines == [
        "Completion text dropped from 20 records",
        "Prompt messages dropped from 20 records",
        "Output text dropped from 3 records",
        "1 key or token redacted in the user field",
    ]
    # two names of one thing in one record count once: the larger count is kept
    assert scrub_lines({"prompt": 2, "prompt_text": 5}) == ["Prompt text dropped from 5 records"]


def test_values_are_shown_in_their_units() -> None:
    assert measure(Decimal("51.000000"), "requests") == "51 requests"
    assert measure(Decimal("1"), "requests") == "1 request"
    assert measure(Decimal("10.99"), "%") == "10.99 %"
    assert measure(Decimal("8.000000"), "%") == "8 %"
    assert measure(Decimal("12450"), "ms") == "12,450 ms"
    assert measure(Decimal("58.75"), "USD") == "$58.75"
    assert counts_text({"acme": 1, "b": 1200}, "requests") == "acme (1 request), b (1,200 requests)"


def test_every_series_of_a_chart_gets_its_own_colour() -> None:
    names = [f"feature-{i}" for i in range(len(PALETTE))]
    assert len(set(series_colors(names).values())) == len(PALETTE) == 24
    by_project = pd.DataFrame(
        {"project": ["p"] * 12, "feature": [f"f{i}" for i in range(12)],
         "requests": [1] * 12, "cost_pusd": [10**12] * 12}
    )  # fmt: skip
    spec = charts.cost_by_project(by_project).to_dict()
    bars, ends = spec["layer"]
    assert len(set(bars["encoding"]["color"]["scale"]["range"])) == 12
    # the total is written at the end of the bar: 12 × $1
    assert spec_rows(spec, ends)["total"].tolist() == ["$12.00"]


def test_features_past_the_top_share_one_segment_per_project() -> None:
    # 40 features on two projects; feature fN costs $(N + 1) on each project
    by_project = pd.DataFrame(
        {"project": ["a"] * 40 + ["b"] * 40, "feature": [f"f{i}" for i in range(40)] * 2,
         "requests": [1] * 80, "cost_pusd": [(i + 1) * 10**12 for i in range(40)] * 2}
    )  # fmt: skip
    spec = charts.cost_by_project(by_project).to_dict()
    bars, ends = spec["layer"]
    colour = bars["encoding"]["color"]["scale"]
    assert colour["domain"][: charts.TOP_FEATURES] == [f"f{i}" for i in range(39, 24, -1)]
    assert colour["domain"][charts.TOP_FEATURES :] == ["25 other features"]
    assert colour["range"][-1] == charts.OTHER_COLOR
    # the other 25 (f0..f24) cost $1 + ... + $25 = $325 on each project; totals unchanged
    rows = spec_rows(spec, bars)
    assert rows[rows["series"] == "25 other features"]["spend"].tolist() == [325.0, 325.0]
    assert spec_rows(spec, ends)["total"].tolist() == ["$820.00", "$820.00"]


def test_money_axes_tick_in_round_amounts_and_hover_keeps_hidden_cents() -> None:
    daily = pd.DataFrame(
        {"day": [date(2026, 1, 14), date(2026, 1, 15)], "model_id": ["gpt-4o"] * 2,
         "cost_pusd": [9 * 10**9, 4 * 10**9]}
    )  # fmt: skip
    spec = charts.daily_cost_by_model(daily).to_dict()
    y = spec["encoding"]["y"]["axis"]
    # $0.009 the top day: ticks every $0.002 up to $0.01, three decimals
    assert y["values"] == [0.0, 0.002, 0.004, 0.006, 0.008, 0.01] and y["format"] == "$,.3f"
    assert spec["encoding"]["x"]["axis"]["format"] == "%d %b"  # days, not midnight timestamps
    (spend,) = [t for t in spec["encoding"]["tooltip"] if t["field"] == "spend"]
    assert spend["format"] == "$,.4~f"  # $0.009 would read $0.01 in cents
    # a click names the day and model
    assert spec["params"][0]["select"]["fields"] == ["date", "model_id"]
    rows = spec_rows(spec)
    assert rows[["date", "model_id"]].values.tolist() == [
        ["2026-01-14", "gpt-4o"],
        ["2026-01-15", "gpt-4o"],
    ]
    assert money_hover([0.5, 120.0]) == "$,.2f"


def test_latency_is_one_small_panel_per_model() -> None:
    latency = pd.DataFrame(
        {"day": [date(2026, 1, 14)] * 3, "model_id": ["a", "b", "c"],
         "p95_ms": [900.0, 1500.0, 7000.0], "p50_ms": [400.0, 700.0, 3000.0]}
    )  # fmt: skip
    spec = charts.latency_per_day(latency).to_dict()
    assert spec["facet"]["field"] == "model_id" and spec["facet"]["sort"] == ["a", "b", "c"]
    assert spec["resolve"]["scale"]["y"] == "independent"  # each panel its own range
    rows = spec_rows(spec)  # P95 and P50 in each of three panels
    assert sorted(zip(rows["model_id"], rows["line"], rows["ms"], strict=True)) == [
        ("a", "P50", 400.0), ("a", "P95", 900.0), ("b", "P50", 700.0),
        ("b", "P95", 1500.0), ("c", "P50", 3000.0), ("c", "P95", 7000.0),
    ]  # fmt: skip


def test_request_rows_show_no_none_or_nan() -> None:
    rows = pd.DataFrame(
        {"ts": ["2026-01-14 09:15:00.000000"], "request_id": ["r1"], "model_id": ["gpt-4o"],
         "model": ["gpt-4o"], "project": [""], "feature": [""], "user": [""], "status": [500],
         "error_type": ["server_error"], "input_tokens": [0], "cached_input_tokens": [0],
         "output_tokens": [0], "latency_ms": [None], "finish_reason": [""], "priced": [True],
         "cost_pusd": [0]}
    )  # fmt: skip
    shown = usage_tables.requests_table(rows)
    text = shown.astype(str).to_numpy().ravel().tolist()
    assert not [v for v in text if v in ("None", "nan", "NaN", "<NA>")]
    assert shown.loc[0, "Time (UTC)"] == "2026-01-14 09:15:00"
    assert (shown.loc[0, "Latency"], shown.loc[0, "User"], shown.loc[0, "Cost"]) == (
        "—",
        "(none)",
        "$0.00",
    )
