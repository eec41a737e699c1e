"""The Price book page driven through AppTest: search, history, add / edit / delete."""

from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.app.shown import shown
from tests.pages import ROOT


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
