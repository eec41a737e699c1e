"""The calculator's chart builders: what they draw at the edges the page rarely reaches."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from ui.charts import plans


def rows(chart: object) -> list[dict]:
    """Every data row of a built chart (all of its datasets)."""
    spec = chart.to_dict()
    return [row for data in spec.get("datasets", {}).values() for row in data]


def test_a_split_part_too_narrow_for_its_label_has_none() -> None:
    # $0.50 of $100.50 is under 8 % of the bar: no room for "$0.50" inside it
    parts = {
        "uncached_input_usd": Decimal("60"),
        "cached_input_usd": Decimal("0.50"),
        "output_usd": Decimal("40"),
    }
    drawn = {row["part"]: row for row in rows(plans.split_chart(parts))}
    assert [drawn[p]["text"] for p in ("Uncached input", "Cached input", "Output")] == [
        "$60.00",
        "",
        "$40.00",
    ]
    assert drawn["Output"]["start"] == 60.5 and drawn["Output"]["end"] == 100.5


def test_tornado_draws_only_ends_that_move_the_cost() -> None:
    frame = pd.DataFrame(
        {
            "label": ["Requests per day", "Batch share"],
            "low_usd": [Decimal("90"), Decimal("108")],
            "high_usd": [Decimal("150"), Decimal("120")],
            "base_usd": [Decimal("120"), Decimal("120")],
            "low_text": ["375 requests/day", "20 %"],
            "high_text": ["625 requests/day", "0 %"],
        }
    )
    chart = plans.tornado_chart(frame)
    ends = [(r["driver"], r["side"], r["text"]) for r in rows(chart) if "driver" in r]
    assert ends == [
        ("Requests per day", "Cheaper than the plan", "375 requests/day: $90.00"),
        ("Requests per day", "Dearer than the plan", "625 requests/day: $150.00"),
        ("Batch share", "Cheaper than the plan", "20 %: $108.00"),  # 0 % is the plan itself
    ]
    y = chart.to_dict()["layer"][0]["encoding"]["y"]
    assert y["scale"]["domain"] == ["Requests per day", "Batch share"]  # every driver named


def test_models_chart_adds_the_selected_model_after_the_cheapest() -> None:
    frame = pd.DataFrame(
        {
            "provider": ["a", "b", "c"],
            "model": ["one", "two", "three"],
            "monthly_usd": [Decimal("1"), Decimal("2"), Decimal("30")],
            "selected": [False, False, True],
            "fits_context": [True, False, None],
        }
    )
    drawn = [(r["name"], r["group"], r["text"]) for r in rows(plans.models_chart(frame, limit=2))]
    assert drawn == [
        ("a · one", "Other models", "$1.00"),
        ("b · two", "Too small for the request", "$2.00"),
        ("c · three", "Selected", "$30.00"),
    ]


def test_empty_inputs_draw_a_message_not_an_error() -> None:
    none = pd.DataFrame(
        columns=["provider", "model", "monthly_usd", "selected", "fits_context"]
    ).astype({"selected": bool})
    assert rows(plans.models_chart(none)) == [{"text": "No data for these filters"}]
    turns = pd.DataFrame(columns=["strategy", "label", "turn", "input_tokens"])
    assert rows(plans.conversation_chart(turns)) == [{"text": "No data for these filters"}]


def test_projection_legend_draws_each_series_as_its_mark() -> None:
    """Bars and the cumulative line each have a legend of their own: one shared colour legend
    would draw both entries with the same symbol."""
    frame = pd.DataFrame(
        {
            "month": [1, 2],
            "monthly_usd": [Decimal("120"), Decimal("130")],
            "cumulative_usd": [Decimal("120"), Decimal("250")],
        }
    )
    spec = plans.projection_chart(frame).to_dict()
    bars, line = (layer["encoding"]["color"] for layer in spec["layer"])
    assert bars["scale"]["domain"] == ["Monthly cost"]
    assert line["scale"]["domain"] == ["Cumulative"]
    assert line["legend"]["symbolType"] == "stroke"
    assert spec["resolve"]["legend"]["color"] == "independent"
    assert spec["resolve"]["scale"]["color"] == "independent"


def test_heat_map_cells_share_one_money_format() -> None:
    def labels(values: list[list[str]]) -> list[str]:
        grid = pd.DataFrame(
            [[Decimal(v) for v in row] for row in values], index=[100, 400], columns=[200, 800]
        )
        return [row["text"] for row in rows(plans.heatmap_chart(grid))]

    # every cell $10 or more: whole dollars throughout
    assert labels([["75", "300"], ["300", "1200"]]) == ["$75", "$300", "$300", "$1,200"]
    # one cell under $10: cents throughout, not "$0.40" beside "$300"
    assert labels([["0.4", "75"], ["300", "1200"]]) == ["$0.40", "$75.00", "$300.00", "$1,200.00"]
    # the tooltip keeps the cents whichever format the cells use
    grid = pd.DataFrame([[Decimal("75.4")]], index=[100], columns=[200])
    [cell] = rows(plans.heatmap_chart(grid))
    assert (cell["text"], cell["exact"]) == ("$75", "$75.40")
