"""The Chargeback page through AppTest: empty state, a month by project by hand, unallocated
spend, another dimension, the display currency with its rate, and the downloads."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from db.engine import make_engine
from db.fx import record_rate, set_display_currency
from db.ingest import ingest_records
from tests.actors import ADMIN
from tests.app.charts import chart_keys, charts
from tests.app.shown import shown
from tests.pages import ROOT

PAGE = str(ROOT / "views" / "chargeback.py")


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    db_url = f"sqlite:///{tmp_path / 'chargeback.db'}"
    monkeypatch.setenv("COSTDESK_DATABASE_URL", db_url)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield db_url
    make_engine.cache_clear()


def log(url: str) -> None:
    """January and December, each call 10,000 in / 1,000 out.

    gpt-4o: 10,000 x 2.5/M + 1,000 x 10/M = $0.035; gpt-4o-mini: 0.0015 + 0.0006 = $0.0021.
    """
    calls = [
        # January: search 20 x gpt-4o = $0.70; support 10 x mini = $0.021; none 5 x gpt-4o = $0.175
        *[("2026-01-10", f"s{i}", "gpt-4o", "search", "ann") for i in range(20)],
        *[("2026-01-20", f"m{i}", "gpt-4o-mini", "support", "bob") for i in range(10)],
        *[("2026-01-31", f"n{i}", "gpt-4o", "", "") for i in range(5)],
        # December: search 10 x gpt-4o = $0.35
        *[("2025-12-05", f"d{i}", "gpt-4o", "search", "ann") for i in range(10)],
    ]
    records = [
        {"timestamp": f"{day}T12:00:00Z", "request_id": rid, "model": model,
         "input_tokens": 10000, "output_tokens": 1000, "project": project, "user": user}
        for day, rid, model, project, user in calls
    ]  # fmt: skip
    ingest_records(make_engine(url), records, source="t", file_name="t.jsonl", actor=ADMIN)


def run() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    return at


def test_an_empty_database_says_how_to_get_data(url: str) -> None:
    at = run()
    assert "No spend stored yet" in at.info[0].value


def test_january_by_project_by_hand(url: str) -> None:
    log(url)
    at = run()
    assert at.selectbox(key="chargeback_month").value == date(2026, 1, 1)  # the last whole month
    metrics = {m.label: m.value for m in at.metric}
    # 0.70 + 0.021 + 0.175 = $0.896 -> $0.90; December $0.35; change +$0.55 (+156.0 %)
    assert metrics == {"Spend, January 2026": "$0.90", "Spend, December 2025": "$0.35",
                       "Change": "+$0.55"}  # fmt: skip
    assert at.metric[2].delta == "+156.0 %"  # 0.546 / 0.35
    table = at.dataframe[0].value
    assert table["Cost centre"].tolist() == ["search", "support", "unallocated"]
    # 0.70 -> 0.70; 0.021 -> 0.02; 0.175 -> 0.17 + the missing cent (remainder .5) = 0.18
    assert table["Spend"].tolist() == [0.70, 0.02, 0.18]
    assert table["Previous month"].tolist() == [0.35, 0.0, 0.0]
    assert table["Share"].iloc[0] == pytest.approx(0.78125)  # 0.70 / 0.896
    assert table["Change %"].iloc[0] == pytest.approx(1.0)  # 0.35 more than 0.35
    assert table["Change %"].iloc[1] is None or table["Change %"].isna().iloc[1]
    assert chart_keys(at) == ["chargeback_chart"]
    (chart,) = charts(at)
    bars = chart.rows  # the table's order, largest first; unallocated drawn grey
    assert bars["centre"].tolist() == ["search", "support", "unallocated"]
    assert bars["spend"].tolist() == [0.70, 0.02, 0.18]
    assert bars["unallocated"].tolist() == [False, False, True]
    assert chart.spec["encoding"]["y"]["sort"] == ["search", "support", "unallocated"]
    assert chart.spec["encoding"]["x"]["title"] == "Spend (USD)"
    names = [b.proto.label for b in at.get("download_button")]
    assert names == ["CSV", "Excel", "Printable report"]


def test_by_user_from_raw_rows(url: str) -> None:
    log(url)
    at = run()
    at.selectbox(key="chargeback_dimension").set_value("user").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert table["Cost centre"].tolist() == ["ann", "bob", "unallocated"]
    assert table["Spend"].tolist() == [0.70, 0.02, 0.18]


def test_figures_in_the_display_currency_state_the_rate(url: str) -> None:
    log(url)
    engine = make_engine(url)
    set_display_currency(engine, currency="EUR", actor=ADMIN)
    at = run()
    assert "no EUR rate dated on or before 2026-01-31" in shown(at.warning[0].value)
    assert at.metric[0].value == "$0.90"  # shown in USD, said so above
    record_rate(engine, currency="EUR", per_usd="0.5", effective_on=date(2026, 1, 15), actor=ADMIN)
    record_rate(engine, currency="EUR", per_usd="2", effective_on=date(2026, 2, 1), actor=ADMIN)
    st.cache_data.clear()
    at = run()
    # The rate in force on 31 January is 15 January's: $0.896 x 0.5 = 0.448 -> 0.45 EUR.
    assert at.metric[0].value == "0.45 EUR"
    assert any(
        shown(c.value) == "Figures in EUR: 1 USD = 0.5 EUR (rate of 2026-01-15)" for c in at.caption
    )
    assert at.dataframe[0].value["Spend"].sum() == pytest.approx(0.45)
    (chart,) = charts(at)
    assert chart.rows["spend"].tolist() == at.dataframe[0].value["Spend"].tolist()
    assert chart.spec["encoding"]["x"]["title"] == "Spend (EUR)"
