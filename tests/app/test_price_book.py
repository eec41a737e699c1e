"""The Price book page driven through AppTest: search, history, add / edit / delete."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.app.charts import chart_keys, charts
from tests.app.shown import shown
from tests.pages import ROOT
from ui.charts.prices import history_frame, price_history


@pytest.fixture
def at(tmp_path, monkeypatch) -> AppTest:
    monkeypatch.setenv("COSTDESK_DATABASE_URL", f"sqlite:///{tmp_path / 'p.db'}")
    st.cache_data.clear()
    st.cache_resource.clear()
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90).run()
    app.switch_page("views/price_book.py").run()
    return app


def _table(at: AppTest):
    return at.dataframe[0].value


def test_search_narrows_the_table(at):
    total = len(_table(at))
    at.text_input(key="prices_search").set_value("gpt-4o-mini").run()
    found = _table(at)
    assert 0 < len(found) < total
    assert set(found["model"]) >= {"gpt-4o-mini"}
    row = found[found["model"] == "gpt-4o-mini"].iloc[0]
    assert (row["input_mtok"], row["output_mtok"]) == ("$0.15", "$0.60")
    assert (row["kind"], row["context_window"]) == ("chat", "128,000")


def test_prices_keep_the_decimals_they_need_and_say_their_date(at):
    at.text_input(key="prices_search").set_value("text-embedding-3-small").run()
    row = _table(at).iloc[0]
    # $0.02 per 1M input tokens, half of it on the Batch API: $0.01; no output price.
    assert (row["input_mtok"], row["batch_input_mtok"]) == ("$0.02", "$0.01")
    assert (row["kind"], row["source"]) == ("embedding", "price list")
    at.text_input(key="prices_search").set_value("gemini-flash-1.5-8b").run()
    assert _table(at).iloc[0]["input_mtok"] == "$0.0375"  # cents would hide it
    text = " ".join(c.value for c in at.main.caption)
    assert "1 model · prices as of" in text and "genai-prices" not in text
    assert not at.exception


def test_add_edit_and_delete_a_custom_price(at):
    at.text_input(key="prices_new_model").set_value("acme-ft-1")
    at.number_input(key="prices_new_input_mtok").set_value(0.4)
    at.number_input(key="prices_new_output_mtok").set_value(1.6)
    at.button[-1].click().run()  # the add form's submit button
    assert not at.exception
    assert any("Saved acme-ft-1" in shown(s.value) for s in at.success)
    at.text_input(key="prices_search").set_value("acme").run()
    assert list(_table(at)["model"]) == ["acme-ft-1"]
    assert list(_table(at)["source"]) == ["custom price #1"]

    # Edit: output price 1.6 -> 2.0
    at.number_input(key="prices_edit_1_output_mtok").set_value(2.0)  # first id of a fresh DB
    at.button[[b.label for b in at.button].index("Save changes")].click().run()
    at.text_input(key="prices_search").set_value("acme").run()
    assert _table(at)["output_mtok"].iloc[0] == "$2.00"

    delete = next(b for b in at.button if b.label.startswith("Delete #"))
    delete.click().run()
    assert any("Deleted custom price" in s.value for s in at.success)
    at.text_input(key="prices_search").set_value("acme").run()
    assert len(_table(at)) == 0


def test_invalid_price_shows_a_clear_error(at):
    at.text_input(key="prices_new_model").set_value("broken")
    at.number_input(key="prices_new_output_mtok").set_value(1.0)
    at.button[-1].click().run()
    assert not at.exception
    assert any("input price per 1M tokens is required" in e.value for e in at.error)


def test_price_history_steps_from_each_price_to_today(at):
    at.selectbox(key="prices_history_model").set_value("o3").run()
    assert not at.exception
    assert chart_keys(at) == ["prices_history_chart"]
    (chart,) = charts(at)
    points = chart.rows.assign(day=chart.rows["day"].dt.date.astype(str))
    today = datetime.now(UTC).date().isoformat()
    steps = {
        name: list(zip(rows["day"], rows["usd_mtok"], strict=True))
        for name, rows in points.groupby("series", sort=False)
    }
    # o3's list price fell on 10 June 2025: input $10 -> $2, output $40 -> $8, cached $0.50
    # kept; each line starts at the price list's first day and runs on to today.
    assert steps["Input"] == [("2023-01-01", 10.0), ("2025-06-10", 2.0), (today, 2.0)]
    assert steps["Output"] == [("2023-01-01", 40.0), ("2025-06-10", 8.0), (today, 8.0)]
    assert steps["Cached input"] == [("2023-01-01", 0.5), ("2025-06-10", 0.5), (today, 0.5)]
    assert list(steps) == ["Input", "Cached input", "Output", "Batch input", "Batch output"]
    assert chart.spec["mark"]["interpolate"] == "step-after"


def test_a_price_not_offered_leaves_a_gap_in_its_line():
    price = [Decimal("0.1"), Decimal("0.15")], [Decimal("0.3"), Decimal("0.6")]
    history = pd.DataFrame(
        {"effective_from": [None, date(2026, 3, 16)], "input_mtok": price[0],
         "cached_input_mtok": [None, Decimal("0.015")], "output_mtok": price[1],
         "batch_input_mtok": [None, None], "batch_output_mtok": [None, None]}
    )  # fmt: skip
    points = history_frame(history, date(2026, 12, 1))
    assert points["series"].unique().tolist() == ["Input", "Cached input", "Output"]  # no batch
    cached = points[points["series"] == "Cached input"]
    # no cached price before 16 March: the first point is empty, so the line starts there
    assert cached["usd_mtok"].isna().tolist() == [True, False, False]
    assert cached["day"].dt.date.tolist() == [
        date(2023, 1, 1),
        date(2026, 3, 16),
        date(2026, 12, 1),
    ]
    spec = price_history(history, date(2026, 12, 1)).to_dict()
    assert spec["mark"]["invalid"] == "break-paths-show-domains"
