"""The Exchange rates page through AppTest: record rates, refuse bad ones, pick the display
currency, delete a rate."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from db.engine import make_engine
from db.fx import display_currency, list_rates, set_display_currency
from tests.actors import ADMIN
from tests.app.shown import shown
from tests.pages import ROOT

PAGE = str(ROOT / "views" / "currency.py")


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    db_url = f"sqlite:///{tmp_path / 'currency.db'}"
    monkeypatch.setenv("COSTDESK_DATABASE_URL", db_url)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield db_url
    make_engine.cache_clear()


def record(at: AppTest, code: str, rate: str, day: date, note: str = "") -> AppTest:
    at.text_input(key="currency_code").input(code)
    at.text_input(key="currency_rate").input(rate)
    at.date_input(key="currency_day").set_value(day)
    at.text_input(key="currency_note").input(note)
    at.button(key="currency_record").click()
    return at.run()


def test_record_two_rates_and_show_figures_in_that_currency(url: str) -> None:
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert "No rates recorded yet." in at.info[0].value
    at = record(at, "eur", "0.92", date(2026, 1, 1), "ECB")
    assert not at.exception
    assert at.success[0].value == "Recorded: 1 USD = 0.92 EUR from 2026-01-01."
    at = record(at, "EUR", "0.95", date(2026, 2, 1))
    table = at.dataframe[0].value
    assert table["1 USD ="].tolist() == ["0.95", "0.92"] and table["Note"].tolist() == ["", "ECB"]
    at.selectbox(key="currency_display").set_value("EUR")
    at.button(key="currency_display_save").click()
    at.run()
    assert at.success[0].value == "Figures are now shown in EUR."
    engine = make_engine(url)
    assert display_currency(engine) == "EUR"
    assert [r.per_usd for r in list_rates(engine)] == [Decimal("0.92"), Decimal("0.95")]


@pytest.mark.parametrize(
    ("code", "rate", "reason"),
    [("EUR", "0,92", "a rate is a number like 0.92"), ("EUR", "-1", "above zero"),
     ("E1", "0.9", "three-letter code"), ("USD", "1", "USD is the currency money is stored in")],
)  # fmt: skip
def test_unusable_rates_are_refused_with_a_reason(
    url: str, code: str, rate: str, reason: str
) -> None:
    at = record(AppTest.from_file(PAGE, default_timeout=60).run(), code, rate, date(2026, 1, 1))
    assert not at.exception
    assert reason in shown(at.error[0].value)
    assert list_rates(make_engine(url)) == []


def test_delete_a_rate(url: str) -> None:
    at = record(AppTest.from_file(PAGE, default_timeout=60).run(), "GBP", "0.8", date(2026, 1, 1))
    at.button(key="currency_delete").click().run()
    assert not at.exception
    assert at.success[0].value == "Deleted the GBP rate from 2026-01-01."
    assert list_rates(make_engine(url)) == []


def test_a_display_currency_without_a_rate_is_flagged(url: str) -> None:
    set_display_currency(make_engine(url), currency="CHF", actor=ADMIN)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert "No CHF rate is recorded yet" in at.warning[0].value
