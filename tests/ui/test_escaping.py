"""Text from logs and users shown as text: escaped for Streamlit's Markdown; charts take it as it
is (Vega draws text, never markup)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.app.charts import all_rows, spec_rows
from ui import usage_tables
from ui.charts import plans as plan_charts
from ui.charts import routing as routing_charts
from ui.charts import usage as usage_charts
from ui.format import WORD_JOINER, counts_text, escape_markdown, names_text

markdown_it = pytest.importorskip("markdown_it")

LINK = '<a href="http://evil.example/x">click</a>'
HOSTILE = [
    "![x](http://127.0.0.1:9/pixel.png)",
    "[text](http://evil.example/x)",
    "[ref][1]\n\n[1]: http://evil.example/x",
    f"{LINK} & <img src=http://evil.example/i.png>",
    "<http://evil.example/autolink>",
    "**bold** _it_ `code` ~~gone~~ $x^2$ :red[red] :material/home:",
    "# heading",
    "1. item",
    "- item",
    "> quote",
    "| a | b |\n|---|---|",
    "first line\r\nsecond\rthird\nfourth",
    "back\\slash \\* &amp; &#x3C;",
    "bare https://evil.example/a, HTTP://x.example and www.evil.example",
    '=HYPERLINK("x") {curly} @user ^caret \'single\' "double"',
]


# What GFM (remark-gfm, as Streamlit renders Markdown) links in plain text: a bare URL.
GFM_BARE_URL = re.compile(r"(?i)(https?://|www(?=\.))[-.\w]+")


def rendered_text(markdown: str) -> str | None:
    """The text of `markdown` if it is one paragraph of plain text, else None."""
    md = markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"])
    tokens = md.parse(markdown)
    if [t.type for t in tokens] != ["paragraph_open", "inline", "paragraph_close"]:
        return None
    children = tokens[1].children or []
    if any(child.type not in ("text", "text_special") for child in children):
        return None
    return "".join(child.content for child in children)


def seen(text: str | None) -> str | None:
    """Rendered text as a reader sees it (the word joiner is invisible)."""
    return None if text is None else text.replace(WORD_JOINER, "")


def one_line(text: str) -> str:
    """`text` with its line breaks as spaces (labels are shown on one line)."""
    return text.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_markdown_renders_as_the_same_plain_text(text: str) -> None:
    rendered = rendered_text(f"Unpriced models: {escape_markdown(text)}.")
    assert seen(rendered) == f"Unpriced models: {one_line(text)}."
    assert not GFM_BARE_URL.search(rendered)


@given(st.text(st.characters(categories=["L", "N", "P", "S", "Zs"], include_characters="\n\t")))
def test_any_text_renders_as_itself(text: str) -> None:
    rendered = rendered_text(f"Model: {escape_markdown(text)}.")
    assert seen(rendered) == f"Model: {one_line(text)}."
    assert not GFM_BARE_URL.search(rendered)


def test_no_image_or_link_markup_survives() -> None:
    escaped = escape_markdown("![x](http://host/pixel.png) [t](u) <b>")
    assert "![" not in escaped and "](" not in escaped
    assert escaped == r"\!\[x\]\(http\:" + WORD_JOINER + r"\/\/host\/pixel\.png\) \[t\]\(u\) \<b\>"


def test_lists_of_names_are_escaped() -> None:
    assert counts_text({"[a](b)": 1_200, "c": 3}, "requests") == (
        r"\[a\]\(b\) (1,200 requests), c (3 requests)"
    )
    assert counts_text({"x_y": 2}) == r"x\_y (2)"
    assert names_text(["*a*", "b"]) == r"\*a\*, b"


def test_usage_figures_show_log_labels_as_text() -> None:
    daily = pd.DataFrame({"day": [date(2026, 1, 5)], "model_id": [LINK], "cost_pusd": [10**9]})
    spec = usage_charts.daily_cost_by_model(daily).to_dict()
    assert spec["encoding"]["color"]["scale"]["domain"] == [LINK]  # the legend, as is
    assert spec_rows(spec)["model_id"].tolist() == [LINK]
    latency = pd.DataFrame(
        {"day": [date(2026, 1, 5)], "model_id": [LINK], "p95_ms": [900.0], "p50_ms": [400.0]}
    )
    spec = usage_charts.latency_per_day(latency).to_dict()
    assert set(spec_rows(spec)["model_id"]) == {LINK}  # the panel's title
    by_project = pd.DataFrame(
        {"project": [LINK], "feature": ["<b>f</b>"], "requests": [1], "cost_pusd": [10**9]}
    )
    spec = usage_charts.cost_by_project(by_project).to_dict()
    bars = spec_rows(spec, spec["layer"][0])
    assert bars[["project", "series"]].values.tolist() == [[LINK, "<b>f</b>"]]
    assert usage_tables.project_table(by_project)["Project"].tolist() == [LINK]  # a grid: as is


def test_the_audit_table_is_escaped_for_st_table() -> None:
    by_model = pd.DataFrame(
        {"model_id": ["![x](http://h/p.png)"], "requests": [3], "truncated": [1],
         "truncated_share": [0.3], "p50_tokens": [10.0], "p99_tokens": [90.0],
         "suggested_max_tokens": [128.0]}
    )  # fmt: skip
    assert usage_tables.audit_table(by_model)["Model"].tolist() == [
        escape_markdown("![x](http://h/p.png)")
    ]


def test_routing_and_plan_figures_show_user_labels_as_text() -> None:
    models = pd.DataFrame(
        {"model": [LINK], "baseline_usd": [Decimal("2")], "scenario_usd": [Decimal("1")]}
    )
    spec = routing_charts.before_after_chart(models).to_dict()
    assert {row["model"] for row in all_rows(spec)} == {LINK}
    assert spec["layer"][0]["encoding"]["y"]["sort"] == [LINK]
    scenarios = pd.DataFrame(
        {"scenario": [LINK], **{key: [Decimal("1")] for key in plan_charts.SPLIT}}
    )
    spec = plan_charts.scenarios_chart(scenarios).to_dict()
    assert {row["scenario"] for row in all_rows(spec)} == {LINK}
    ranked = pd.DataFrame(
        {"provider": ["custom"], "model": [LINK], "monthly_usd": [Decimal("5")],
         "selected": [True], "fits_context": [True]}
    )  # fmt: skip
    spec = plan_charts.models_chart(ranked).to_dict()
    assert [row["name"] for row in all_rows(spec)] == [f"custom · {LINK}"]
