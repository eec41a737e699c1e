"""Usage page in AppTest: the empty state, then KPIs from hand-built rollups, then filters."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.stats import LATENCY_EDGES_MS
from db.engine import make_engine
from db.ingest import ingest_records
from db.models import DailyRollup, LatencyDaily, LatencyHistogram
from tests.app.shown import shown
from ui import format as fmt

ROOT = Path(__file__).resolve().parents[2]
NOV2, NOV3 = date(2026, 11, 2), date(2026, 11, 3)
G = 10**9  # pico-dollars: $0.001


@pytest.fixture
def app_db(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path / 'usage.db'}"
    monkeypatch.setenv("COSTDESK_DATABASE_URL", url)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield url
    st.cache_data.clear()
    make_engine.cache_clear()


def _row(
    day, model, project, status, requests, cost_pusd, *, unpriced=0, inp=0, out=0, model_id=None
) -> dict:
    return {
        "day": day, "provider": "openai", "model": model, "model_id": model_id or model,
        "project": project, "feature": "", "batch": False, "status": status,
        "requests": requests, "unpriced_requests": unpriced, "input_tokens": inp,
        "output_tokens": out, "cost_pusd": cost_pusd,
    }  # fmt: skip


def _store(url: str) -> None:
    rows = [
        _row(NOV2, "gpt-4o", "search", 200, 10, 100 * G, inp=10_000, out=5_000),
        _row(NOV2, "gpt-4o", "search", 429, 2, 0),
        _row(NOV3, "gpt-4o-mini", "support", 200, 20, 1_800_000_000, inp=4_000, out=2_000),
        _row(NOV3, "acme-7b", "support", 200, 5, 0, unpriced=5, inp=500, out=100),
    ]
    latency = {
        "day": NOV2, "model_id": "gpt-4o", "project": "search", "status": 200, "bucket": 30,
        "count": 12,
    }  # fmt: skip
    with make_engine(url).begin() as conn:
        conn.execute(DailyRollup.__table__.insert(), rows)
        conn.execute(LatencyHistogram.__table__.insert(), [latency])
        daily = {k: latency[k] for k in ("day", "model_id", "bucket", "count")}
        conn.execute(LatencyDaily.__table__.insert(), [daily])


def _usage_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page("views/usage.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _table(at: AppTest, column: str):
    """The one dataframe on the page with `column`."""
    (found,) = [d.value for d in at.dataframe if column in d.value.columns]
    return found


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_empty_database_says_how_to_load_data(app_db):
    at = _usage_page()
    assert at.title[0].value == "Usage"
    assert "No requests stored yet" in at.info[0].value
    assert "python cli.py demo" in at.code[0].value
    assert "python cli.py ingest FILE" in at.code[0].value
    assert not at.metric  # no KPI row without data


def test_kpis_show_the_hand_computed_figures(app_db):
    _store(app_db)
    at = _usage_page()
    kpis = _metrics(at)
    assert kpis["Spend"] == fmt.usd(Decimal("0.1018")) == "$0.10"  # 100e9 + 1.8e9 pico
    assert kpis["Month to date"] == "$0.10"  # November 1st to 3rd
    assert kpis["Requests"] == "37"  # 10 + 2 + 20 + 5
    assert kpis["Avg cost / request"] == fmt.usd(Decimal("0.1018") / 32, places=4) == "$0.0032"
    assert kpis["Error rate"] == "5.41 %"  # 2 / 37
    assert kpis["429 responses"] == "2"
    assert kpis["Tokens"] == fmt.tokens(14_500 + 7_100) == "21.6k"
    e = LATENCY_EDGES_MS  # all 12 in bucket 30: P95 = 95 % of the way through it
    assert kpis["P95 latency"] == fmt.millis(e[30] + 0.95 * (e[31] - e[30]))
    assert "acme-7b (5 requests)" in shown(at.warning[0].value)
    assert len(at.get("plotly_chart")) >= 7


def test_filters_change_the_kpis(app_db):
    _store(app_db)
    at = _usage_page()
    at.multiselect(key="usage_projects").set_value(["support"])
    at.button(key="usage_apply").click().run()
    kpis = _metrics(at)
    assert kpis["Spend"] == fmt.usd(Decimal("0.0018"))
    assert kpis["Requests"] == "25"
    assert kpis["Error rate"] == "0.00 %"
    at.multiselect(key="usage_projects").set_value([])
    at.multiselect(key="usage_statuses").set_value([429])
    at.button(key="usage_apply").click().run()
    kpis = _metrics(at)
    assert (kpis["Requests"], kpis["Error rate"], kpis["Spend"]) == ("2", "100.00 %", "$0.00")
    at.multiselect(key="usage_statuses").set_value([])
    at.date_input(key="usage_dates").set_value((NOV3, NOV3))
    at.button(key="usage_apply").click().run()
    assert _metrics(at)["Requests"] == "25"
    assert not at.exception


def test_a_model_logged_under_two_names_is_one_row_with_a_drill_down(app_db):
    snapshot = _row(NOV3, "gpt-4o-2024-08-06", "search", 200, 3, 30 * G, model_id="gpt-4o")
    _store(app_db)
    with make_engine(app_db).begin() as conn:
        conn.execute(DailyRollup.__table__.insert(), [snapshot])
    at = _usage_page()
    assert at.multiselect(key="usage_models").options == ["acme-7b", "gpt-4o", "gpt-4o-mini"]
    models = _table(at, "Logged names").set_index("Model")
    # gpt-4o: 10 + 2 requests logged as gpt-4o, 3 as gpt-4o-2024-08-06; $0.10 + $0.03.
    assert models.loc["gpt-4o", "Requests"] == 15
    assert models.loc["gpt-4o", "Spend (USD)"] == pytest.approx(0.13)
    assert models.loc["gpt-4o", "Logged names"] == 2
    assert not [d for d in at.dataframe if "Logged as" in d.value.columns]  # on demand
    at.toggle(key="usage_by_logged_name").set_value(True).run()
    names = _table(at, "Logged as")
    gpt_4o = names[names["Model"] == "gpt-4o"]
    assert gpt_4o[["Logged as", "Requests"]].values.tolist() == [
        ["gpt-4o", 12],
        ["gpt-4o-2024-08-06", 3],
    ]
    at.multiselect(key="usage_models").set_value(["gpt-4o"])
    at.button(key="usage_apply").click().run()
    assert _metrics(at)["Requests"] == "15" and _metrics(at)["Spend"] == "$0.13"


def test_a_model_named_like_markdown_is_shown_as_text(app_db):
    name = "![x](http://127.0.0.1:9/pixel.png)"
    record = {"timestamp": "2026-11-02T10:00:00Z", "request_id": "h1", "model": name,
              "input_tokens": 10, "output_tokens": 5,
              "project": "[p](http://127.0.0.1:9/)"}  # fmt: skip
    report = ingest_records(make_engine(app_db), [record], source="probe", file_name="h.jsonl")
    assert report.accepted == 1 and report.unpriced_models == {name: 1}
    at = _usage_page()
    (warning,) = at.warning
    assert fmt.escape_markdown(name) in warning.value
    assert "![" not in warning.value and "](" not in warning.value
    audit = at.table[-1].value  # st.table reads Markdown in its cells
    assert audit["Model"].tolist() == [fmt.escape_markdown(name)]
    markdown = [*at.markdown, *at.caption, *at.warning, *at.info, *at.error, *at.success]
    assert not [m.value for m in markdown if "![" in m.value or "](http" in m.value]
