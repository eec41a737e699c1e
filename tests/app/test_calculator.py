"""The Cost calculator page driven through AppTest: inputs by key, metrics read back."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.actors import ADMIN
from tests.app.charts import Drawn, chart_keys, charts
from tests.app.shown import shown

ROOT = Path(__file__).resolve().parents[2]
PAGE = "views/calculator.py"


@pytest.fixture
def at(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("COSTDESK_DATABASE_URL", f"sqlite:///{tmp_path / 'calc.db'}")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tiktoken"))
    st.cache_data.clear()
    st.cache_resource.clear()
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90).run()
    app.switch_page(PAGE).run()
    assert not app.exception
    return app


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def chart(at: AppTest, key: str) -> Drawn:
    return next(drawn for drawn in charts(at) if drawn.spec["usermeta"]["key"] == key)


def axis_values(drawn: Drawn, channel: str, field: str) -> list[float]:
    """The ticks of the axis that draws `field` on `channel`, in any layer."""
    return next(
        layer["encoding"][channel]["axis"]["values"]
        for layer in drawn.spec["layer"]
        if layer["encoding"].get(channel, {}).get("field") == field
    )


def test_classic_example_on_gpt4o(at: AppTest) -> None:
    # 500/day x 30 days, 1,600 in at $2.50/M + 400 out at $10/M = $60 + $60
    assert metric(at, "Per month") == "$120.00"
    assert metric(at, "Per day") == "$4.00"
    assert metric(at, "Per request") == "$0.008"
    assert metric(at, "Per 1,000 requests") == "$8.00"
    assert metric(at, "Per year") == "$1,440.00"


def test_split_and_projection_charts_draw_the_plan(at: AppTest) -> None:
    assert chart_keys(at) == ["calc_split_chart", "calc_projection_chart"]
    split = chart(at, "calc_split_chart").rows
    # 24M uncached input tokens x $2.50/M and 6M output tokens x $10/M; nothing cached
    assert list(zip(split["part"], split["usd"], split["text"], strict=True)) == [
        ("Uncached input", 60.0, "$60.00"),
        ("Cached input", 0.0, ""),
        ("Output", 60.0, "$60.00"),
    ]
    assert list(split["end"]) == [60.0, 60.0, 120.0]  # stacked end to end
    projection = chart(at, "calc_projection_chart")
    months = projection.rows
    assert list(months["month"]) == list(range(1, 13))
    assert set(months["monthly_usd"]) == {120.0}  # no growth
    assert list(months["cumulative_usd"])[-1] == 1440.0  # 12 x $120
    # $120 over five ticks -> $25 steps; $1,440 -> $500 steps (round ticks on both axes)
    assert axis_values(projection, "y", "monthly_usd") == [0, 25, 50, 75, 100, 125]
    assert axis_values(projection, "y", "cumulative_usd") == [0, 500, 1000, 1500]


def test_models_chart_marks_the_selection_and_models_too_small(at: AppTest) -> None:
    at.session_state["calc_tab"] = "All models"
    at.run()
    ranked = chart(at, "calc_models_chart").rows
    assert len(ranked) == 26  # the 25 cheapest, then the selected model
    assert list(ranked["monthly_usd"][:25]) == sorted(ranked["monthly_usd"][:25])
    last = ranked.iloc[-1]
    assert (last["name"], last["group"], last["text"]) == ("openai · gpt-4o", "Selected", "$120.00")
    at.text_input(key="calc_models_search").set_value("gpt-4o").run()
    ranked = chart(at, "calc_models_chart").rows.set_index("name")
    assert ranked.loc["openai · gpt-4o-mini", "text"] == "$7.20"  # 24M x 0.15 + 6M x 0.60
    at.number_input(key="calc_in").set_value(200_000).run()
    ranked = chart(at, "calc_models_chart").rows.set_index("name")
    # 200,400 tokens do not fit gpt-4o-mini's 128,000; the selected model keeps its colour
    assert ranked.loc["openai · gpt-4o-mini", "group"] == "Too small for the request"
    assert ranked.loc["openai · gpt-4o", "group"] == "Selected"
    at.text_input(key="calc_models_search").set_value("no such model").run()
    assert "No data for these filters" in chart(at, "calc_models_chart").rows["text"].to_list()
    assert not at.exception


def test_sensitivity_charts_move_each_driver(at: AppTest) -> None:
    at.session_state["calc_tab"] = "Sensitivity"
    at.run()
    assert chart_keys(at) == ["calc_split_chart", "calc_tornado_chart", "calc_heatmap_chart"]
    tornado = chart(at, "calc_tornado_chart")
    ends = tornado.rows[tornado.rows["driver"] == "Requests per day"]
    # 500 requests a day +-25 %: 375 and 625 a day cost 3/4 and 5/4 of $120
    assert list(zip(ends["side"], ends["text"], strict=True)) == [
        ("Cheaper than the plan", "375 requests/day: $90.00"),
        ("Dearer than the plan", "625 requests/day: $150.00"),
    ]
    assert set(tornado.rows["base_usd"].dropna()) == {120.0}
    y = tornado.spec["layer"][0]["encoding"]["y"]
    assert y["sort"][0] == "Requests per day"  # the widest bar on top
    # $90..$150 widened by 30 % of the $60 spread each side: $72..$168 -> $0..$200 by $50
    assert axis_values(tornado, "x", "usd") == [0, 50, 100, 150, 200]
    cells = chart(at, "calc_heatmap_chart").rows.set_index(["requests_per_day", "output_tokens"])
    assert cells.loc[("500", "400"), "text"] == "$120"  # the plan itself
    # 4x the requests and 4x the output: $60 x 4 input + $60 x 16 output
    assert cells.loc[("2000", "1600"), "usd"] == 1200.0


def test_conversation_chart_counts_the_history_sent(at: AppTest) -> None:
    at.session_state["calc_tab"] = "Conversations"
    at.run()
    turns = chart(at, "calc_conversation_chart").rows
    full = turns[turns["label"] == "Full history"].set_index("turn")["input_tokens"]
    assert len(turns) == 3 * 10  # three strategies, ten turns
    # 500 system + 60 user; each later turn adds the last reply (250) and a new message (60)
    assert (full[1], full[2], full[10]) == (560, 870, 560 + 9 * 310)


def test_inputs_by_key_change_the_metrics(at: AppTest) -> None:
    at.selectbox(key="calc_model").set_value("openai/gpt-4o-mini").run()
    assert metric(at, "Per month") == "$7.20"  # 24M x 0.15 + 6M x 0.60
    at.selectbox(key="calc_model").set_value("openai/gpt-4o").run()
    at.number_input(key="calc_rpd").set_value(1000).run()
    assert metric(at, "Per month") == "$240.00"  # double the volume, double the bill
    at.number_input(key="calc_batch").set_value(100.0).run()
    assert metric(at, "Per month") == "$120.00"  # all on the half-price Batch API
    at.number_input(key="calc_batch").set_value(0.0)
    at.number_input(key="calc_cache").set_value(50.0).run()
    # 800 of 1,600 input tokens cached at $1.25/M: 24M x 1.25 = $30 saved on $240
    assert metric(at, "Per month") == "$210.00"
    assert not at.exception


def test_inputs_are_mirrored_in_the_query_string(at: AppTest) -> None:
    at.number_input(key="calc_out").set_value(800).run()
    assert at.query_params["out"] == "800"
    assert at.query_params["model"] == "openai/gpt-4o"
    assert metric(at, "Per month") == "$180.00"  # 60 input + 12M x $10/M


def test_a_shared_link_reproduces_the_view(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTDESK_DATABASE_URL", f"sqlite:///{tmp_path / 'link.db'}")
    st.cache_data.clear()
    st.cache_resource.clear()
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    app.query_params.update({"model": "gpt-4o-mini", "rpd": "1000", "in": "1600", "out": "400"})
    app.run()
    app.switch_page(PAGE).run()
    assert metric(app, "Per month") == "$14.40"  # twice the $7.20 example
    assert app.selectbox(key="calc_model").value == "openai/gpt-4o-mini"


def test_what_if_tab_answers_in_words(at: AppTest) -> None:
    at.session_state["calc_tab"] = "What if"
    at.run()
    text = " ".join(shown(m.value) for m in at.markdown)
    assert "$240.00" in text  # volume doubles
    # gpt-4o's smaller sibling leads: $7.20 a month, $112.80 (94 %) less than $120.00.
    assert "Try **openai · gpt-4o-mini** first (the same family's smaller model)" in text
    assert "$112.80 (94 %) less; 2,000 tokens fit its context window" in text
    switches = at.dataframe[0].value
    assert switches["model"].iloc[0] == "gpt-4o-mini"
    first = switches.iloc[0]
    assert (first["reason"], first["fits_context"], first["context_window"]) == (
        "smaller sibling",
        "fits",
        "128,000",
    )
    assert round(first["saving_usd"], 2) == 112.8  # $120.00 - $7.20
    assert not switches["model"].str.contains("embed|tts|image|audio|realtime").any()
    assert set(switches["fits_context"]) <= {"fits", "too small", "unknown"}
    assert "$15.00 a month" in text  # 50 % cache: 12M cached tokens x $1.25/M saved
    assert "133.4 months" in text  # $2,000 / $15, rounded up


def test_save_and_compare_scenarios(at: AppTest) -> None:
    at.session_state["calc_tab"] = "Scenarios"
    at.run()
    assert any("No saved scenarios" in i.value for i in at.info)
    at.text_input(key="calc_scn_name").set_value("Launch on 4o")
    at.button(key="calc_scn_save").click().run()
    assert any("Saved scenario" in s.value for s in at.success)
    at.selectbox(key="calc_model").set_value("openai/gpt-4o-mini")
    at.text_input(key="calc_scn_name").set_value("Launch on mini")
    at.button(key="calc_scn_save").click().run()
    at.multiselect(key="calc_scn_compare").set_value(["Launch on 4o", "Launch on mini"]).run()
    frame = at.dataframe[0].value
    assert list(frame["scenario"]) == ["Launch on 4o", "Launch on mini"]
    assert [round(v, 2) for v in frame["monthly_usd"]] == [120.0, 7.2]
    compared = chart(at, "calc_scenarios_chart").rows
    totals = compared.dropna(subset=["text"])
    assert list(zip(totals["scenario"], totals["text"], strict=True)) == [
        ("Launch on 4o", "$120.00"),
        ("Launch on mini", "$7.20"),
    ]
    parts = compared.dropna(subset=["part"]).set_index(["scenario", "part"])["usd"]
    assert parts[("Launch on mini", "Uncached input")] == pytest.approx(3.6)  # 24M x $0.15/M
    assert parts[("Launch on mini", "Output")] == pytest.approx(3.6)  # 6M x $0.60/M
    assert not at.exception


def test_token_counter_fills_input(at: AppTest) -> None:
    at.text_area(key="calc_tok_system").set_value("hello world").run()
    # 2 tokens + 3 framing for the message + 3 to prime the reply
    assert metric(at, "Input tokens per request") == "8"
    at.button(key="calc_tok_use").click().run()
    assert at.number_input(key="calc_in").value == 8


def test_comparison_exports() -> None:
    from datetime import date
    from decimal import Decimal

    from core.plans import Workload, plan_cost, scenario_frame
    from core.pricing import PriceBook
    from ui.plans_resources import export_csv, export_xlsx

    book = PriceBook.from_snapshot()
    w = Workload(Decimal(500), 1600, 400, cache_hit_share="0.25", pricing_date=date(2026, 1, 5))
    plans = [
        (m, w, plan_cost(w, book.price_at(m, w.pricing_date))) for m in ("gpt-4o", "gpt-4o-mini")
    ]
    csv = export_csv(scenario_frame(plans)).decode().splitlines()
    assert csv[0] == (
        "scenario,provider,model,pricing_date,requests_per_day,input_tokens,output_tokens,"
        "max_output_tokens,cache_hit_share,batch_share,growth_monthly_share,days_per_month,"
        "months,monthly_usd,yearly_usd,daily_usd,cost_per_request_usd,uncached_input_usd,"
        "cached_input_usd,output_usd"
    )
    # 400 of 1,600 input tokens cached: 1,200 x 2.50 + 400 x 1.25 + 400 x 10 = 7,500 per 1M
    # -> $0.0075 a request, x 15,000 a month = $112.50.
    assert csv[1].startswith(
        "gpt-4o,openai,gpt-4o,2026-01-05,500,1600,400,,0.25,0,0,30,12,112.5,1350,3.75,0.0075,"
    )
    frame = scenario_frame(plans)
    xlsx = export_xlsx(frame)
    assert xlsx[:2] == b"PK" and len(xlsx) > 2000  # a zipped Office Open XML workbook


def test_custom_priced_model_can_be_planned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import date
    from decimal import Decimal

    from db.engine import make_engine
    from db.prices import save_override

    url = f"sqlite:///{tmp_path / 'custom.db'}"
    save_override(
        make_engine(url),
        model="acme-ft-1",
        effective_from=date(2024, 1, 1),
        rates={"input_mtok": Decimal("1"), "output_mtok": Decimal("2")},
        actor=ADMIN,
    )
    monkeypatch.setenv("COSTDESK_DATABASE_URL", url)
    st.cache_data.clear()
    st.cache_resource.clear()
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90).run()
    app.switch_page(PAGE).run()
    app.selectbox(key="calc_model").set_value("custom/acme-ft-1").run()
    # 24M input x $1/M + 6M output x $2/M = $24 + $12
    assert metric(app, "Per month") == "$36.00"
    assert not app.exception and not app.error


def test_unreadable_link_values_fall_back_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COSTDESK_DATABASE_URL", f"sqlite:///{tmp_path / 'bad.db'}")
    st.cache_data.clear()
    st.cache_resource.clear()
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    app.query_params.update({"model": "no-such-model", "rpd": "lots"})
    app.run()
    app.switch_page(PAGE).run()
    assert any("model, rpd" in w.value for w in app.warning)
    assert metric(app, "Per month") == "$120.00"  # the defaults: the classic example
    assert not app.exception


@pytest.mark.parametrize(
    "tab",
    [
        "Projection",
        "All models",
        "Sensitivity",
        "What if",
        "Conversations",
        "Prompt compression",
        "Scenarios",
    ],
)
def test_every_tab_renders_at_zero_volume(at: AppTest, tab: str) -> None:
    at.number_input(key="calc_rpd").set_value(0)
    at.session_state["calc_tab"] = tab
    at.run()
    assert not at.exception
    assert metric(at, "Per month") == "$0.00"
    assert any("requests per day" in i.value for i in at.info)
    assert chart_keys(at)[0] == "calc_split_chart"


def test_load_and_delete_a_scenario(at: AppTest) -> None:
    at.session_state["calc_tab"] = "Scenarios"
    at.run()
    at.number_input(key="calc_rpd").set_value(1000)
    at.text_input(key="calc_scn_name").set_value("Busy month")
    at.button(key="calc_scn_save").click().run()
    at.number_input(key="calc_rpd").set_value(500).run()
    assert metric(at, "Per month") == "$120.00"
    at.button(key="calc_scn_load").click().run()
    assert at.number_input(key="calc_rpd").value == 1000
    assert metric(at, "Per month") == "$240.00"  # the saved 1,000 requests a day
    at.button(key="calc_scn_delete").click().run()
    assert any("Deleted scenario" in s.value for s in at.success)
    assert any("No saved scenarios" in i.value for i in at.info)


def _save(at: AppTest, name: str) -> AppTest:
    at.text_input(key="calc_scn_name").set_value(name)
    return at.button(key="calc_scn_save").click().run()


def test_saving_over_a_name_asks_first(at: AppTest, tmp_path: Path) -> None:
    from db.engine import make_engine
    from db.scenarios import load_scenario

    engine = make_engine(f"sqlite:///{tmp_path / 'calc.db'}")
    at.session_state["calc_tab"] = "Scenarios"
    at = _save(at.run(), "Launch")
    at.number_input(key="calc_rpd").set_value(1000).run()
    at = _save(at, "Launch")
    assert any("“Launch” is already saved. Replace it" in w.value for w in at.warning)
    assert load_scenario(engine, "Launch").params["requests_per_day"] == "500"  # not yet
    at.button(key="calc_scn_replace_no").click().run()
    assert not at.warning
    assert load_scenario(engine, "Launch").params["requests_per_day"] == "500"
    at = _save(at, "Launch")
    at.button(key="calc_scn_replace_yes").click().run()
    assert any("Saved scenario “Launch”" in s.value for s in at.success)
    assert load_scenario(engine, "Launch").params["requests_per_day"] == "1000"
    assert not at.exception


def test_compared_scenarios_carry_every_assumption(at: AppTest) -> None:
    at.session_state["calc_tab"] = "Scenarios"
    at = _save(at.run(), "Launch on 4o")
    at.number_input(key="calc_cache").set_value(50.0)
    at = _save(at, "Cached 4o")
    at.multiselect(key="calc_scn_compare").set_value(["Cached 4o", "Launch on 4o"]).run()
    frame = at.dataframe[0].value
    assert {
        "pricing_date",
        "requests_per_day",
        "input_tokens",
        "output_tokens",
        "max_output_tokens",
        "cache_hit_share",
        "batch_share",
        "growth_monthly_share",
        "days_per_month",
        "months",
    } <= set(frame.columns)
    assert list(frame["cache_hit_share"]) == [50.0, 0.0]  # percent
    assert list(frame["max_output_tokens"]) == ["no cap", "no cap"]
    # 800 of 1,600 input tokens cached: 24M x $2.50/M -> 12M x 2.50 + 12M x 1.25 = $45 + $60.
    assert [round(v, 2) for v in frame["monthly_usd"]] == [105.0, 120.0]
    text = " ".join(m.value for m in at.markdown)
    assert "The scenarios differ in cache-hit share; every other assumption is the same." in text


def test_a_shortlisted_model_leads_the_switch_suggestions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.pricing import PriceBook
    from db.engine import make_engine
    from db.shortlist import add_to_shortlist

    url = f"sqlite:///{tmp_path / 'short.db'}"
    add_to_shortlist(
        make_engine(url), model="gemini-2.5-flash", book=PriceBook.from_snapshot(), actor=ADMIN
    )
    monkeypatch.setenv("COSTDESK_DATABASE_URL", url)
    st.cache_data.clear()
    st.cache_resource.clear()
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90).run()
    app.switch_page(PAGE).run()
    app.session_state["calc_tab"] = "What if"
    app.run()
    switches = app.dataframe[0].value
    assert list(switches["model"][:2]) == ["gemini-2.5-flash", "gpt-4o-mini"]
    assert list(switches["reason"][:2]) == ["★ shortlisted", "smaller sibling"]
    text = " ".join(shown(m.value) for m in app.markdown)
    assert "Try **google · gemini-2.5-flash** first (it is on your shortlist)" in text
    assert not app.exception
