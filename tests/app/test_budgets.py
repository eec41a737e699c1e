"""The Budgets & alerts page through AppTest: empty state, create, cards, chart, ack, mute, rules."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
import streamlit as st
from sqlalchemy import insert
from streamlit.testing.v1 import AppTest

from db.budgets import list_budgets, list_events, list_rules, set_budget
from db.engine import make_engine
from db.models import DailyRollup
from tests.app.shown import shown
from tests.pages import ROOT

AS_OF_DAY = date(2026, 3, 20)


@pytest.fixture
def url(tmp_path, monkeypatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    monkeypatch.setenv("COSTDESK_DATABASE_URL", url)
    for name in ("COSTDESK_WEBHOOK_URL", "COSTDESK_SLACK_WEBHOOK_URL", "COSTDESK_SMTP_HOST"):
        monkeypatch.delenv(name, raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield url
    make_engine.cache_clear()


def _open() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90).run()
    at.switch_page("views/budgets.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _fill(url: str) -> None:
    """$10 a day, Feb 10 .. Mar 20 2026; a $200 budget -> 200 / 200 = 100 % on Mar 20."""
    engine = make_engine(url)
    rows = [
        {"day": date(2026, 2, 10) + timedelta(days=i), "model": "acme-1", "model_id": "acme-1",
         "project": "search", "cost_pusd": 10 * 10**12}
        for i in range(39)
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(DailyRollup.__table__), rows)


def _button(at: AppTest, label: str, nth: int = 0):
    return [b for b in at.button if b.label == label][nth]


def test_empty_state_then_create_a_budget(url: str) -> None:
    _fill(url)  # a project scope must name logged traffic
    at = _open()
    assert any("No budgets yet" in i.value for i in at.info)
    at.text_input(key="budgets_name_new").set_value("Team")
    at.number_input(key="budgets_amount_new").set_value(750.0)
    at.text_input(key="budgets_scope_new").set_value("project:search")
    at.button(key="budgets_save_new").click().run()
    assert not at.exception
    (budget,) = list_budgets(make_engine(url))
    assert (budget.name, budget.amount_usd, budget.scope) == ("Team", 750, "project:search")
    assert any("**Team**" in m.value for m in at.markdown)


def test_bad_input_shows_an_error_not_a_traceback(url: str) -> None:
    at = _open()
    at.text_input(key="budgets_name_new").set_value("Team")
    at.text_input(key="budgets_tz_new").set_value("Atlantis/Capital")
    at.button(key="budgets_save_new").click().run()
    assert not at.exception
    assert any("Unknown timezone" in e.value for e in at.error)
    assert list_budgets(make_engine(url)) == []


def test_a_misspelt_scope_is_refused_with_a_suggestion(url: str) -> None:
    _fill(url)
    at = _open()
    at.text_input(key="budgets_name_new").set_value("Team")
    at.text_input(key="budgets_scope_new").set_value("project:serch")
    at.button(key="budgets_save_new").click().run()
    assert not at.exception
    assert [shown(e.value) for e in at.error] == [
        "no project named 'serch' has traffic; did you mean search?"
    ]
    assert list_budgets(make_engine(url)) == []


def test_a_budget_for_a_model_before_launch_says_it_has_no_traffic(url: str) -> None:
    _fill(url)
    at = _open()
    at.text_input(key="budgets_name_new").set_value("Launch")
    at.text_input(key="budgets_scope_new").set_value("model:gpt-4o-2024-08-06")
    at.button(key="budgets_save_new").click().run()
    assert not at.exception and not at.error
    (budget,) = list_budgets(make_engine(url))
    assert budget.scope == "model:gpt-4o"
    assert any(
        "No traffic for model:gpt-4o yet: its spend counts from the first request."
        in shown(c.value)
        for c in at.caption
    )
    assert any("**Launch** · model:gpt-4o" in shown(m.value) for m in at.markdown)


def test_card_forecast_and_acknowledge(url: str) -> None:
    _fill(url)
    set_budget(make_engine(url), name="Search", amount_usd=400, scope="project:search")
    at = _open()
    at.date_input(key="budgets_as_of").set_value(AS_OF_DAY).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    # Mar 1..20 = 200 of 400 = 50 %; forecast 31 × 10 = 310; 31 - 20 + 1 = 12 days left (the 20th included)
    assert metrics["Spent"] == "$200.00" and metrics["Used"] == "50.00 %"
    assert metrics["Month-end forecast"] == "$310.00" and metrics["Days left"] == "12"
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert {t.get("name") for t in spec["data"]} >= {"actual", "forecast", "90 % interval"}
    assert any("same weekday" in c.value for c in at.caption)
    # one alert fires: the 50 % threshold; acknowledge it
    (event,) = list_events(make_engine(url))
    assert event.threshold == 50
    _button(at, "Acknowledge").click().run()
    assert not at.exception
    assert list_events(make_engine(url), acknowledged=True)[0].id == event.id
    assert any("Acknowledged" in c.value for c in at.caption)
    assert len(at.dataframe[0].value) == 1  # history


def test_mute_silences_the_budget(url: str) -> None:
    _fill(url)
    set_budget(make_engine(url), name="Search", amount_usd=100, thresholds="50")
    at = _open()
    at.date_input(key="budgets_as_of").set_value(AS_OF_DAY).run()
    assert len([b for b in at.button if b.label == "Acknowledge"]) == 1
    mute = next(b for b in at.button if b.label == "Mute")
    mute.click().run()
    assert not at.exception
    assert list_budgets(make_engine(url))[0].muted_until is not None
    assert [b for b in at.button if b.label == "Acknowledge"] == []
    assert any(c.value.startswith("Muted:") for c in at.caption)


def test_rule_settings_save(url: str) -> None:
    at = _open()
    rules = {r.kind: r for r in list_rules(make_engine(url))}
    rule_id = rules["latency_p95"].id
    at.text_input(key=f"budgets_rule_{rule_id}_sla_ms").set_value("2500")
    at.button(key=f"budgets_rule_save_{rule_id}").click().run()
    assert not at.exception
    assert {r.kind: r for r in list_rules(make_engine(url))}["latency_p95"].rule.sla_ms == 2500


def test_one_row_per_budget_and_acknowledge_covers_lower_thresholds(url: str) -> None:
    _fill(url)
    set_budget(make_engine(url), name="Search", amount_usd=150, forecast_alert=False)
    at = _open()
    at.date_input(key="budgets_as_of").set_value(AS_OF_DAY).run()
    # 200 / 150 = 133.33 %: four thresholds stored, one row shown (the highest)
    assert len(list_events(make_engine(url))) == 4
    assert [b.label for b in at.button].count("Acknowledge") == 1
    assert any("(threshold 100 %)" in m.value for m in at.markdown)
    _button(at, "Acknowledge").click().run()
    assert len(list_events(make_engine(url), acknowledged=True)) == 4
