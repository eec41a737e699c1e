"""The Routing simulator page in AppTest: empty state, rules, results, saving, plan vs actual."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import insert
from streamlit.testing.v1 import AppTest

from core.plans import Workload
from db.engine import make_engine
from db.models import RequestLog
from db.scenarios import list_scenarios, save_scenario
from tests.app.shown import shown
from tests.rows import with_keys

ROOT = Path(__file__).resolve().parents[2]
PAGE = "views/routing.py"
RULE = "model=gpt-4o,max_input_tokens=2000,target=gpt-4o-mini,share=0.5,escalation=0.1"


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh SQLite file for the app; every Streamlit cache cleared."""
    url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("COSTDESK_DATABASE_URL", url)
    st.cache_data.clear()
    st.cache_resource.clear()
    make_engine.cache_clear()
    return url


def _fill(url: str) -> None:
    """1,000 gpt-4o requests of 1,600 in / 400 out over 2025-05-01 and 02: $8.00."""
    rows = [
        {
            "ts": datetime(2025, 5, 1 + i % 2, 10, tzinfo=UTC),
            "day": date(2025, 5, 1 + i % 2),
            "source": "app-test",
            "request_id": f"r{i}",
            "model": "gpt-4o-2024-08-06",
            "model_id": "gpt-4o",  # as ingest stores it
            "project": "bot",
            "input_tokens": 1600,
            "output_tokens": 400,
        }
        for i in range(1000)
    ]
    with make_engine(url).begin() as conn:
        conn.execute(insert(RequestLog.__table__), with_keys(rows))


def _open() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    return at.switch_page(PAGE).run()


def _type_rule(at: AppTest, spec: str) -> AppTest:
    at.text_input(key="routing_spec").set_value(spec)
    next(b for b in at.button if b.label == "Add typed rule").click()
    return at.run()


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_empty_database_says_how_to_get_data(db_url: str) -> None:
    at = _open()
    assert not at.exception
    assert any("No logged traffic yet" in i.value for i in at.info)
    at.radio(key="routing_source").set_value("Saved plan").run()
    assert any("No saved plans yet" in i.value for i in at.info)


def test_typed_rule_gives_hand_computed_savings(db_url: str) -> None:
    _fill(db_url)
    at = _type_rule(_open(), RULE)
    assert not at.exception and not at.error
    # Baseline: 1,000 x (1,600 x 2.5 + 400 x 10) / 1M = $8.00. On gpt-4o-mini: $0.48.
    # After: 0.5 x 8.00 + 0.5 x (0.48 + 0.1 x 8.00) = 4.00 + 0.64 = $4.64 -> saves $3.36,
    # over 2 days -> $3.36 x 30 / 2 = $50.40 a month.
    metrics = _metrics(at)
    assert metrics["Baseline (2 days)"] == "$8.00"
    assert metrics["With the rules"] == "$4.64"
    assert metrics["Savings"] == "$3.36"
    assert metrics["Savings per month"] == "$50.40"
    table = at.dataframe[0].value
    assert table["requests_moved"].tolist() == [500.0]
    assert table["break_even_escalation"].tolist() == ["94.0 %"]  # 1 - 0.48 / 8


def test_suggestions_view(db_url: str) -> None:
    _fill(db_url)
    at = _open()
    at.radio(key="routing_view").set_value("Suggestions").run()
    assert not at.exception
    # Every gpt-4o request (1,600 tokens) is under 2,000: moving all to gpt-4o-mini turns
    # $8.00 into $0.48 over 2 days -> $7.52 x 15 = $112.80 a month.
    metrics = _metrics(at)
    assert metrics["Premium traffic under 2,000 tokens"] == "100.0 %"
    assert metrics["Savings per month if moved"] == "$112.80"


def test_bad_rule_shows_an_error_not_a_traceback(db_url: str) -> None:
    _fill(db_url)
    at = _type_rule(_open(), "model=gpt-4o,share=2,target=gpt-4o-mini")
    assert not at.exception
    assert any("between 0 and 1" in e.value for e in at.error)


def test_a_typed_rule_naming_nothing_is_refused_with_a_suggestion(db_url: str) -> None:
    _fill(db_url)
    at = _type_rule(_open(), "model=gpt-4x,target=gpt-4o-mini")
    assert not at.exception
    assert [shown(e.value) for e in at.error] == [
        "Rule not added: no model named 'gpt-4x' has traffic or a price; did you mean "
        "gpt-4, gpt-4o or gpt-5.4?"
    ]
    at = _type_rule(at, "model=gpt-4o-2024-08-06,target=gpt-4o-mini,share=0.5,escalation=0.1")
    assert not at.error and _metrics(at)["Savings"] == "$3.36"  # the dated id: the same traffic


def test_form_rule_reorder_remove_and_first_match(db_url: str) -> None:
    _fill(db_url)
    at = _open()
    at.number_input(key="routing_new_max_in").set_value(0)
    at.selectbox(key="routing_new_target").set_value("gpt-4o-mini")
    at.number_input(key="routing_new_share").set_value(100.0)
    at.number_input(key="routing_new_escalation").set_value(0.0)
    next(b for b in at.button if b.label == "Add rule").click()
    at = at.run()
    at = _type_rule(at, "project=bot,batch_share=1")
    # First match wins: rule 1 takes every request, rule 2 (batch) sees none.
    # All to gpt-4o-mini: 1,000 x (1,600 x 0.15 + 400 x 0.6) / 1M = $0.48.
    assert _metrics(at)["With the rules"] == "$0.48"
    at.button(key="routing_down_0").click().run()
    # Now batch first: gpt-4o batch = 1,000 x (1,600 x 1.25 + 400 x 5) / 1M = $4.00.
    assert _metrics(at)["With the rules"] == "$4.00"
    at.button(key="routing_remove_0").click().run()
    assert _metrics(at)["With the rules"] == "$0.48"
    assert len(at.dataframe[0].value) == 1


def test_save_simulation_and_load_it_back(db_url: str) -> None:
    _fill(db_url)
    at = _type_rule(_open(), RULE)
    at.text_input(key="routing_save_name").set_value("mini for short prompts")
    at.button(key="routing_save").click().run()
    saved = list_scenarios(make_engine(db_url), kind="routing")
    assert [s.name for s in saved] == ["mini for short prompts"]
    assert saved[0].params["rules"][0]["target"] == "gpt-4o-mini"
    at.button(key="routing_remove_0").click().run()
    at.button(key="routing_load").click().run()
    assert _metrics(at)["Savings"] == "$3.36"


def test_plan_source_and_plan_vs_actual_waterfall(db_url: str) -> None:
    _fill(db_url)
    workload = Workload(requests_per_day=400, input_tokens=1600, output_tokens=400)
    params = {"model": "gpt-4o", **workload.to_params()}
    save_scenario(make_engine(db_url), name="launch plan", params=params, kind="plan")
    at = _open()
    at.radio(key="routing_view").set_value("Plan vs actual").run()
    assert not at.exception
    # Plan: 400 x 30 = 12,000 requests x $0.008 = $96.00; May's logs: 1,000 requests, $0
    # charged (the rows carry no cost), so the difference is -$96.00.
    metrics = _metrics(at)
    assert metrics["Plan"] == "$96.00"
    assert metrics["Actual minus plan"] == "-$96.00"
    spec = json.loads(at.get("plotly_chart")[-1].proto.spec)
    assert spec["data"][0]["type"] == "waterfall"
    at.radio(key="routing_view").set_value("Simulation")
    at.radio(key="routing_source").set_value("Saved plan").run()
    at = _type_rule(at, RULE)
    assert _metrics(at)["Baseline (30 days)"] == "$96.00"
