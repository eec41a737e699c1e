"""The Routing simulator page in AppTest: empty state, rules, results, saving, plan vs actual."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import insert
from streamlit.testing.v1 import AppTest

from core.plans import Workload
from core.pricing import PriceBook
from db.engine import make_engine
from db.ingest import ingest_records
from db.ingest.rollups import rebuild
from db.models import RequestLog
from db.scenarios import list_scenarios, save_scenario
from db.shortlist import add_to_shortlist
from tests.actors import ADMIN
from tests.app.charts import chart_keys, charts
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
        rebuild(conn)  # the rollups of rows stored outside an ingest


def _fill_mixed(url: str) -> None:
    """Logged on 2025-05-01 and 02: 1,000 gpt-4o calls (1,600 in / 400 out: $8.00), 500
    text-embedding-3-small calls (1,000 in: 500,000 x $0.02/M = $0.01) and 200 gpt-4o-mini
    calls (1,000 in / 200 out: 200,000 x $0.15/M + 40,000 x $0.60/M = $0.054). $8.064."""

    def record(i: int, model: str, inp: int, out: int) -> dict:
        return {
            "timestamp": f"2025-05-0{1 + i % 2}T10:{i // 60 % 60:02d}:{i % 60:02d}Z",
            "request_id": f"{model}-{i}",
            "model": model,
            "project": "bot",
            "input_tokens": inp,
            "output_tokens": out,
        }

    records = [record(i, "gpt-4o-2024-08-06", 1600, 400) for i in range(1000)]
    records += [record(i, "text-embedding-3-small", 1000, 0) for i in range(500)]
    records += [record(i, "gpt-4o-mini", 1000, 200) for i in range(200)]
    report = ingest_records(
        make_engine(url), records, source="app-test", file_name="m.jsonl", actor=ADMIN
    )
    assert report.accepted == 1700


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
    # gpt-4o: $8.00 -> 0.5 x 8.00 + the 50 escalated re-runs 0.05 x 8.00 = $4.40; gpt-4o-mini:
    # nothing before, the 500 moved calls after: 0.5 x 0.48 = $0.24
    assert chart_keys(at) == ["routing_models_chart"]
    (chart,) = charts(at)
    bars = chart.rows.set_index(["model", "side"])
    assert bars["usd"].round(6).to_dict() == {
        ("gpt-4o", "Before"): 8.0, ("gpt-4o-mini", "Before"): 0.0,
        ("gpt-4o", "After"): 4.4, ("gpt-4o-mini", "After"): 0.24,
    }  # fmt: skip
    assert bars.loc[("gpt-4o", "After"), "label"] == "$4.40"
    assert chart.spec["layer"][0]["encoding"]["y"]["sort"] == ["gpt-4o", "gpt-4o-mini"]
    # money ticks on round amounts with room for the labels: $8.00 over 5 ticks is $2 a tick
    axis = chart.spec["layer"][0]["encoding"]["x"]
    assert axis["scale"]["domain"] == [0.0, 10.0] and axis["axis"]["values"][-1] == 10.0


def test_suggestions_view(db_url: str) -> None:
    _fill_mixed(db_url)
    at = _open()
    at.radio(key="routing_view").set_value("Suggestions").run()
    assert not at.exception
    cheaper = at.selectbox(key="routing_sug_target")
    assert cheaper.value == "gpt-4o-mini"  # gpt-4o costs most; its smaller sibling leads
    assert cheaper.options[0] == "gpt-4o-mini · smaller sibling"
    assert not [o for o in cheaper.options if "embed" in o]
    # Premium models are the chat models dearer than gpt-4o-mini: gpt-4o only. Every gpt-4o
    # request (1,600 tokens) is under 2,000: moving all of it turns $8.00 into $0.48 over
    # 2 days -> $7.52 x 15 = $112.80 a month.
    metrics = _metrics(at)
    assert metrics["Premium traffic under 2,000 tokens"] == "100.0 %"
    assert metrics["Savings per month if moved"] == "$112.80"
    assert at.dataframe[0].value["model"].tolist() == ["gpt-4o"]


def test_a_shortlisted_model_leads_the_suggestions(db_url: str) -> None:
    _fill_mixed(db_url)
    add_to_shortlist(
        make_engine(db_url),
        model="claude-haiku-4-5-20251001",
        book=PriceBook.from_snapshot(),
        actor=ADMIN,
    )
    at = _open()
    at.radio(key="routing_view").set_value("Suggestions").run()
    cheaper = at.selectbox(key="routing_sug_target")
    assert cheaper.options[:2] == [
        "★ claude-haiku-4-5 · shortlisted",
        "gpt-4o-mini · smaller sibling",
    ]
    assert not at.exception


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


def _add_rule(at: AppTest) -> AppTest:
    next(b for b in at.button if b.label == "Add rule").click()
    return at.run()


def test_a_rule_without_a_source_model_is_refused(db_url: str) -> None:
    _fill_mixed(db_url)
    at = _open()
    assert at.selectbox(key="routing_new_target").value == "(keep the model)"
    at = _add_rule(at)  # the form's defaults as they are: no source model chosen
    assert not at.exception
    assert [shown(e.value) for e in at.error] == [
        "Rule not added: the rule does nothing: choose the model it takes traffic from and a "
        "target model (model=..., target=...), or give it a batch share or a cache uplift."
    ]
    at.selectbox(key="routing_new_target").set_value("gpt-4o-mini")
    at = _add_rule(at)  # a target but still no source model
    assert [shown(e.value) for e in at.error] == [
        "Rule not added: a rule that routes needs the model it takes traffic from "
        "(model=...): without one it would move every model's traffic, embeddings included."
    ]
    assert any("No rules yet" in c.value for c in at.caption)
    metrics = _metrics(at)
    assert metrics["Baseline (2 days)"] == "$8.06"  # 8.00 + 0.01 + 0.054
    assert metrics["With the rules"] == "$8.06"


def test_a_gpt4o_rule_moves_only_gpt4o_traffic(db_url: str) -> None:
    _fill_mixed(db_url)
    at = _open()
    at.selectbox(key="routing_new_model").set_value("gpt-4o").run()
    target = at.selectbox(key="routing_new_target")
    assert target.value == "gpt-4o-mini"  # the smaller sibling leads
    assert not [o for o in target.options if "embedding" in o or "gpt-4o · " in o]
    at = _add_rule(at)  # input <= 2,000 -> gpt-4o-mini, 67 %, 5 % escalation
    assert not at.exception and not at.error
    # gpt-4o: 0.33 x 8.00 + 0.67 x (0.48 + 0.05 x 8.00) = 2.64 + 0.5896 = $3.2296, saving
    # $4.7704. Embeddings ($0.01) and gpt-4o-mini's own calls ($0.054) are not touched:
    # 3.2296 + 0.01 + 0.054 = $3.2936.
    metrics = _metrics(at)
    assert metrics["With the rules"] == "$3.29"
    assert metrics["Savings"] == "$4.77"
    models = at.dataframe[1].value.set_index("model")
    assert models.loc["text-embedding-3-small", "requests_after"] == 500
    assert models.loc["text-embedding-3-small", "scenario_usd"] == 0.01
    assert models.loc["gpt-4o-mini", "requests_after"] == 870  # 200 + 0.67 x 1,000
    assert models.loc["gpt-4o", "requests_after"] == 363.5  # 330 + 0.05 x 670 escalated


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        (
            "model=gpt-4o-2024-08-06,target=openai/gpt-4o",
            "Rule not added: the target is the source model itself (gpt-4o); pick a different "
            "model.",
        ),
        (
            "model=gpt-4o,target=text-embedding-3-small",
            "Rule not added: target model 'text-embedding-3-small' is an embedding model and "
            "cannot answer chat requests.",
        ),
        (
            "model=text-embedding-3-small,target=gpt-4o-mini",
            "Rule not added: 'text-embedding-3-small' is an embedding model: its requests "
            "cannot move to a chat model.",
        ),
        (
            "max_input_tokens=2000,target=gpt-4o-mini,share=0.67",
            "Rule not added: a rule that routes needs the model it takes traffic from "
            "(model=...): without one it would move every model's traffic, embeddings included.",
        ),
    ],
)
def test_a_rule_that_cannot_route_says_why(db_url: str, spec: str, reason: str) -> None:
    _fill_mixed(db_url)
    at = _type_rule(_open(), spec)
    assert not at.exception
    assert [shown(e.value) for e in at.error] == [reason]


def test_form_rule_reorder_remove_and_first_match(db_url: str) -> None:
    _fill(db_url)
    at = _open()
    at.selectbox(key="routing_new_model").set_value("gpt-4o").run()
    at.number_input(key="routing_new_max_in").set_value(0)
    at.selectbox(key="routing_new_target").set_value("gpt-4o-mini")
    at.number_input(key="routing_new_share").set_value(100.0)
    at.number_input(key="routing_new_escalation").set_value(0.0)
    at = _add_rule(at)
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
    save_scenario(make_engine(db_url), name="launch plan", params=params, kind="plan", actor=ADMIN)
    at = _open()
    at.radio(key="routing_view").set_value("Plan vs actual").run()
    assert not at.exception
    # Plan: 400 x 30 = 12,000 requests x $0.008 = $96.00; May's logs: 1,000 requests, $0
    # charged (the rows carry no cost), so the difference is -$96.00.
    metrics = _metrics(at)
    assert metrics["Plan"] == "$96.00"
    assert metrics["Actual minus plan"] == "-$96.00"
    # Volume: 1,000 of the 12,000 planned requests at the plan's $0.008 = $8.00, so -$88.00;
    # same tokens and model; price: $0 charged against $8.00 at list prices, so -$8.00.
    assert chart_keys(at)[-1] == "routing_waterfall"
    bars = charts(at)[-1].rows.set_index("step")
    assert bars.index.tolist() == ["Plan", "Volume", "Tokens per request", "Model mix", "Price",
                                   "Actual"]  # fmt: skip
    assert bars["amount"].round(6).tolist() == [96.0, -88.0, 0.0, 0.0, -8.0, 0.0]
    assert bars[["start", "end"]].round(6).values.tolist() == [
        [0.0, 96.0], [96.0, 8.0], [8.0, 8.0], [8.0, 8.0], [8.0, 0.0], [0.0, 0.0]
    ]  # fmt: skip
    assert bars["kind"].tolist() == ["total", "decrease", "increase", "increase", "decrease",
                                     "total"]  # fmt: skip
    assert bars.loc["Volume", "label"] == "-$88.00"
    at.radio(key="routing_view").set_value("Simulation")
    at.radio(key="routing_source").set_value("Saved plan").run()
    at = _type_rule(at, RULE)
    assert _metrics(at)["Baseline (30 days)"] == "$96.00"


def test_date_presets_and_custom_days_set_the_simulated_period(db_url: str) -> None:
    _fill(db_url)  # 500 requests on 2025-05-01 and 500 on 2025-05-02, $4.00 a day
    at = _type_rule(_open(), RULE)
    assert at.segmented_control(key="routing_preset").value == "30d"
    assert _metrics(at)["Baseline (2 days)"] == "$8.00"  # the 30 days hold 2 days of logs
    at.segmented_control(key="routing_preset").set_value("custom").run()
    at.date_input(key="routing_dates").set_value((date(2025, 5, 2), date(2025, 5, 2))).run()
    # One day: $4.00 -> $2.32 (half the $3.36 saving), x 30 = $50.40 a month as before.
    metrics = _metrics(at)
    assert metrics["Baseline (1 day)"] == "$4.00"
    assert metrics["Savings"] == "$1.68"
    assert metrics["Savings per month"] == "$50.40"
    at.segmented_control(key="routing_preset").set_value("last_month").run()
    assert any("No requests were logged in" in i.value for i in at.info)  # April: no logs
    assert not at.exception
