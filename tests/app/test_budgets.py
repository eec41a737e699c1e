"""The Budgets & alerts page through AppTest: empty state, create, cards, chart, check, ack, mute,
rules; the page writes nothing unless a button is pressed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest
import streamlit as st
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from core.currency import Conversion, FxRate
from core.forecast import budget_status
from db.budgets import list_budgets, list_events, list_rules, set_budget
from db.engine import make_engine
from tests.actors import ADMIN
from tests.app.charts import chart_keys, charts
from tests.app.shown import shown
from tests.pages import ROOT
from tests.rows import insert_rollup
from ui.charts.budgets import forecast_figure

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
        insert_rollup(conn, rows)


def _button(at: AppTest, label: str, nth: int = 0):
    return [b for b in at.button if b.label == label][nth]


def _check(at: AppTest) -> AppTest:
    """Press Check now."""
    at.button(key="budgets_check").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _rows(url: str) -> dict[str, int]:
    """Rows in the tables a render must never write, by plain SQL."""
    tables = ("alert_event", "alert_rule", "budget")
    with make_engine(url).connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}


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
    set_budget(make_engine(url), name="Search", amount_usd=400, scope="project:search", actor=ADMIN)
    at = _open()
    at.date_input(key="budgets_as_of").set_value(AS_OF_DAY).run()
    assert not at.exception
    assert list_events(make_engine(url)) == []  # opening the page checks nothing
    assert any("not checked yet: Search" in shown(i.value) for i in at.info)
    _check(at)
    metrics = {m.label: m.value for m in at.metric}
    # Mar 1..20 = 200 of 400 = 50 %; forecast 31 × 10 = 310; 31 - 20 + 1 = 12 days left (the 20th included)
    assert metrics["Spent"] == "$200.00" and metrics["Used"] == "50.00 %"
    assert metrics["Month-end forecast"] == "$310.00" and metrics["Days left"] == "12"
    _assert_forecast_chart(at)
    assert any("same weekday" in c.value for c in at.caption)
    # one alert fires: the 50 % threshold; acknowledge it
    (event,) = list_events(make_engine(url))
    assert event.threshold == 50
    _button(at, "Acknowledge").click().run()
    assert not at.exception
    assert list_events(make_engine(url), acknowledged=True)[0].id == event.id
    assert any("Acknowledged" in c.value for c in at.caption)
    assert len(at.dataframe[0].value) == 1  # history


def _assert_forecast_chart(at: AppTest) -> None:
    """Search's chart as of Mar 20: $10 a day gives $200 by the 20th and $310 by the 31st; the
    spread of identical days is nil, so the band is the forecast line itself."""
    assert chart_keys(at) == ["budgets_forecast_chart"]
    (chart,) = charts(at)
    frames = list(chart.datasets.values())
    lines = next(f for f in frames if set(f.get("series", [])) == {"actual", "forecast"})
    band = next(f for f in frames if set(f.get("series", [])) == {"90 % interval"})
    lines["day"] = lines["day"].dt.date
    actual = lines[lines["series"] == "actual"].set_index("day")["cumulative_usd"]
    forecast = lines[lines["series"] == "forecast"].set_index("day")["cumulative_usd"]
    assert len(actual) == 20 and actual[date(2026, 3, 1)] == 10 and actual[AS_OF_DAY] == 200
    # the forecast joins the actual line on the 20th and adds $10 a day to the 31st
    assert forecast.index.tolist() == [date(2026, 3, d) for d in range(20, 32)]
    assert forecast.tolist() == [200.0 + 10 * i for i in range(12)]
    assert band["low_usd"].tolist() == band["high_usd"].tolist() == forecast.tolist()
    lines_across = next(f for f in frames if "label" in f)
    labelled = dict(zip(lines_across["label"], lines_across["amount"], strict=True))
    assert labelled == {"50 %": 200.0, "75 %": 300.0, "90 %": 360.0, "budget $400": 400.0}
    x = chart.spec["layer"][0]["encoding"]["x"]["scale"]["domain"]  # the whole of March
    assert [(d["month"], d["date"]) for d in x] == [(3, 1), (3, 31)]
    text = chart.text()
    assert "Cumulative spend (USD)" in text and '"strokeDash"' in text


def test_mute_silences_the_budget(url: str) -> None:
    _fill(url)
    set_budget(make_engine(url), name="Search", amount_usd=100, thresholds="50", actor=ADMIN)
    at = _open()
    at.date_input(key="budgets_as_of").set_value(AS_OF_DAY).run()
    _check(at)
    assert len([b for b in at.button if b.label == "Acknowledge"]) == 1
    mute = next(b for b in at.button if b.label == "Mute")
    mute.click().run()
    assert not at.exception
    assert list_budgets(make_engine(url))[0].muted_until is not None
    assert [b for b in at.button if b.label == "Acknowledge"] == []
    assert any(
        c.value.startswith("Muted (checks report") and "budget Search until" in c.value
        for c in at.caption
    )


def test_rule_settings_save(url: str) -> None:
    at = _open()
    at.text_input(key="budgets_rule_latency_p95_all_sla_ms").set_value("2500")
    at.button(key="budgets_rule_save_latency_p95_all").click().run()
    assert not at.exception
    assert {r.kind: r for r in list_rules(make_engine(url))}["latency_p95"].rule.sla_ms == 2500
    assert _rows(url)["alert_rule"] == 1  # the edited default is stored; the others stay virtual


def test_one_row_per_budget_and_acknowledge_covers_lower_thresholds(url: str) -> None:
    _fill(url)
    set_budget(make_engine(url), name="Search", amount_usd=150, forecast_alert=False, actor=ADMIN)
    at = _open()
    at.date_input(key="budgets_as_of").set_value(AS_OF_DAY).run()
    _check(at)
    # 200 / 150 = 133.33 %: four thresholds stored, one row shown (the highest)
    assert len(list_events(make_engine(url))) == 4
    assert [b.label for b in at.button].count("Acknowledge") == 1
    assert any("(threshold 100 %)" in m.value for m in at.markdown)
    _button(at, "Acknowledge").click().run()
    assert len(list_events(make_engine(url), acknowledged=True)) == 4


# ---------------------------------------------------------------- reads only; the month's alerts


def test_opening_and_using_the_page_writes_nothing(url: str) -> None:
    _fill(url)
    set_budget(make_engine(url), name="Search", amount_usd=150, actor=ADMIN)
    before = _rows(url)
    at = _open()
    at.date_input(key="budgets_as_of").set_value(AS_OF_DAY).run()
    at.selectbox(key="budgets_hist_status").set_value("open").run()
    assert not at.exception
    assert _rows(url) == before == {"alert_event": 0, "alert_rule": 0, "budget": 1}
    _check(at)  # the button, and only the button, stores what fired
    assert _rows(url)["alert_event"] == 4  # 133 %: the 50, 75, 90 and 100 % thresholds


def _spend_with_a_spike(url: str, today: date) -> date:
    """$10 a day for 20 days up to today, but the day before today (today itself on the first of
    a month) costs $50. Returns the spike day."""
    spike = today - timedelta(days=1) if today.day > 1 else today
    rows = [
        {"day": today - timedelta(days=i), "model": "acme-1", "model_id": "acme-1",
         "project": "search", "cost_pusd": (50 if today - timedelta(days=i) == spike else 10)
         * 10**12}
        for i in range(20)
    ]  # fmt: skip
    with make_engine(url).begin() as conn:
        insert_rollup(conn, rows)
    return spike


def test_a_spike_earlier_this_month_shows_on_the_default_view(url: str) -> None:
    today = datetime.now(UTC).date()
    spike = _spend_with_a_spike(url, today)
    at = _check(_open())  # as of now, the default
    (row,) = [m.value for m in at.markdown if m.value.startswith("**Cost spike**")]
    # the 14 days before: median 10, no swing -> limit max(10 + 0, 2 × 10) = $20
    assert shown(row) == (
        f"**Cost spike** · all traffic: 1 spike day this month; latest "
        f"{spike.day} {spike:%b %Y}, $50.00 (threshold $20.00)"
    )
    (link,) = [p for p in at.get("page_link") if "See the requests" in p.proto.label]
    day = spike.isoformat()
    assert link.proto.query_string == (f"from={day}&to={day}&usage_section=Users+%26+requests")
    again = _open()  # a later visit shows it without a new check, from what is stored
    assert any(m.value.startswith("**Cost spike**") for m in again.markdown)


def test_a_budget_on_the_last_day_of_the_month_keeps_a_forecast_band(url: str) -> None:
    rows = [
        {"day": date(2026, 3, 3) + timedelta(days=i), "model": "acme-1", "model_id": "acme-1",
         "project": "search", "cost_pusd": (8 if i % 2 == 0 else 12) * 10**12}
        for i in range(28)
    ]  # fmt: skip
    with make_engine(url).begin() as conn:
        insert_rollup(conn, rows)
    set_budget(make_engine(url), name="Search", amount_usd=400, actor=ADMIN)
    at = _open()
    at.date_input(key="budgets_as_of").set_value(date(2026, 3, 31)).run()
    metrics = {m.label: m.value for m in at.metric}
    # spent 14 × 8 + 14 × 12 = 280; the 31st expected at the weekday median 10 -> 290
    assert (metrics["Spent"], metrics["Month-end forecast"], metrics["Days left"]) == (
        "$280.00",
        "$290.00",
        "1",
    )
    # robust sd 1.4826 × 2 = 2.9652; 1.645 × 2.9652 × sqrt(1 + 1 / 28) = 4.96
    assert any(c.value.startswith("Range $285.04 – $294.96") for c in at.caption)


def test_the_spike_rule_explains_its_multiple_in_plain_words(url: str) -> None:
    at = _open()
    k = at.text_input(key="budgets_rule_cost_spike_all_k")
    assert k.label == "Swing multiple (k)"
    assert "median absolute deviation" in k.help and "three usual swings" in k.help
    assert "MAD" not in k.label


def test_the_forecast_chart_in_another_currency_names_it() -> None:
    # $10 a day through 10 March at 0.5 EUR per USD: 50 EUR by the 10th, 155 EUR by the 31st;
    # a $400 budget is 200 EUR, its 50 % line 100 EUR.
    daily = {date(2026, 2, 1) + timedelta(days=i): Decimal(10) for i in range(38)}
    eur = Conversion("EUR", FxRate("EUR", Decimal("0.5"), date(2026, 1, 1)))
    status = budget_status(daily, date(2026, 3, 10), Decimal(400), (50, 100), conversion=eur)
    spec = forecast_figure(status, conv=eur).to_dict()
    frames = [pd.DataFrame(rows) for rows in spec["datasets"].values()]
    lines = next(f for f in frames if set(f.get("series", [])) == {"actual", "forecast"})
    assert lines["cumulative_usd"].iloc[[9, -1]].tolist() == [50.0, 155.0]
    labelled = next(f for f in frames if "label" in f).set_index("label")["amount"].to_dict()
    assert labelled == {"50 %": 100.0, "budget 200 EUR": 200.0}
    y = spec["layer"][1]["encoding"]["y"]
    assert y["title"] == "Cumulative spend (EUR)"
    assert y["axis"]["labelExpr"] == "format(datum.value, ',.3~r') + ' EUR'"
    assert "$" not in json.dumps([layer["encoding"].get("tooltip") for layer in spec["layer"]])
