"""Usage page in AppTest: the empty state, KPIs from hand-built rollups against the previous
period, date presets and links, filters, lazy sections, the charts' data, the drill-down (and the
bar click that opens it) and the demo banner."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from core.stats import LATENCY_EDGES_MS
from db.demo import load_demo
from db.engine import make_engine
from db.ingest import ingest_records
from tests.actors import ADMIN
from tests.app.charts import chart_keys, charts
from tests.app.shown import shown
from tests.rows import insert_histograms, insert_rollup
from ui import drilldown
from ui import format as fmt
from ui.charts.usage import PICK

ROOT = Path(__file__).resolve().parents[2]
NOV2, NOV3 = date(2026, 11, 2), date(2026, 11, 3)
G = 10**9  # pico-dollars: $0.001


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
        insert_rollup(conn, rows)
        insert_histograms(conn, [latency])


def _usage_page(**query: str) -> AppTest:
    """The Usage page, opened on `?from=...&to=...` (or any query) when given."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params.update(query)
    at.run()
    at.switch_page("views/usage.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _open(at: AppTest, section: str) -> AppTest:
    """Open a section of the page (the tabs keep their state under `usage_section`)."""
    at.session_state["usage_section"] = section
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _table(at: AppTest, column: str):
    """The one dataframe on the page with `column`."""
    (found,) = [d.value for d in at.dataframe if column in d.value.columns]
    return found


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _subheaders(at: AppTest) -> list[str]:
    return [h.value for h in at.subheader]


def _by_day(rows):
    """A chart's rows with its `day` timestamps as ISO days."""
    return rows.assign(day=rows["day"].astype(str).str[:10])


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
    assert chart_keys(at) == ["usage_cost_chart", "usage_project_chart"]  # the Cost section only


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
    at.button(key="usage_apply").click().run()
    at.segmented_control(key="usage_preset").set_value("custom").run()
    at.date_input(key="usage_dates").set_value((NOV3, NOV3)).run()
    assert _metrics(at)["Requests"] == "25"
    assert at.query_params == {"from": "2026-11-03", "to": "2026-11-03"}  # a shareable address
    assert not at.exception


def test_a_model_logged_under_two_names_is_one_row_with_a_drill_down(app_db):
    snapshot = _row(NOV3, "gpt-4o-2024-08-06", "search", 200, 3, 30 * G, model_id="gpt-4o")
    _store(app_db)
    with make_engine(app_db).begin() as conn:
        insert_rollup(conn, [snapshot])
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
    report = ingest_records(
        make_engine(app_db), [record], source="probe", file_name="h.jsonl", actor=ADMIN
    )
    assert report.accepted == 1 and report.unpriced_models == {name: 1}
    at = _usage_page()
    (warning,) = at.warning
    assert fmt.escape_markdown(name) in warning.value
    assert "![" not in warning.value and "](" not in warning.value
    _open(at, "max_tokens audit")
    audit = at.table[-1].value  # st.table reads Markdown in its cells
    assert audit["Model"].tolist() == [fmt.escape_markdown(name)]
    markdown = [*at.markdown, *at.caption, *at.warning, *at.info, *at.error, *at.success]
    assert not [m.value for m in markdown if "![" in m.value or "](http" in m.value]


# ---------------------------------------------------------------- sections, dates, deltas


def test_only_the_open_section_is_computed_and_drawn(app_db):
    _store(app_db)
    at = _open(_usage_page(), "Errors & latency")
    assert chart_keys(at) == ["usage_errors_chart", "usage_latency_chart"]
    errors, latency = charts(at)
    # Nov 2: 2 of 12 requests were 429s (error rate 1/6); Nov 3: none of 25
    by_day = _by_day(errors.rows).set_index("day")
    assert by_day["rate_limited"].to_dict() == {"2026-11-02": 2, "2026-11-03": 0}
    assert by_day["error_share"].to_dict() == pytest.approx({"2026-11-02": 2 / 12, "2026-11-03": 0})
    # one panel per model with a P95 and a P50 line: gpt-4o has latency, so one panel, two lines;
    # all 12 calls in bucket 30, so each percentile is that share of the way through it
    assert latency.spec["facet"]["field"] == "model_id" and "P95 solid" in _subheaders(at)[1]
    e = LATENCY_EDGES_MS
    lines = latency.rows.set_index(["model_id", "line"])["ms"].to_dict()
    assert lines == pytest.approx(
        {
            ("gpt-4o", "P95"): e[30] + 0.95 * (e[31] - e[30]),
            ("gpt-4o", "P50"): e[30] + 0.50 * (e[31] - e[30]),
        }
    )
    _open(at, "Tokens & caching")
    assert chart_keys(at) == ["usage_tokens_chart", "usage_cache_chart"]
    tokens = _by_day(charts(at)[0].rows)
    # nothing cached or written to a cache: those parts are left out (not drawn as zeros)
    assert sorted(zip(tokens["day"], tokens["series"], tokens["tokens"], strict=True)) == [
        ("2026-11-02", "Input (uncached)", 10_000),
        ("2026-11-02", "Output", 5_000),
        ("2026-11-03", "Input (uncached)", 4_500),  # 4,000 + 500
        ("2026-11-03", "Output", 2_100),  # 2,000 + 100
    ]


def test_each_bar_of_the_daily_chart_is_the_day_and_model_a_click_opens(app_db):
    _store(app_db)
    at = _usage_page()
    daily, projects = charts(at)
    (pick,) = daily.spec["params"]
    assert pick == {"name": PICK, "select": {"type": "point", "fields": ["date", "model_id"]}}
    bars = daily.rows.sort_values("stack")
    # 100e9 and 1.8e9 pico-dollars; acme-7b is unpriced: a bar of nothing, not a cost
    spend = {(b.date, b.model_id): b.spend for b in bars.itertuples()}
    assert spend == pytest.approx(
        {
            ("2026-11-02", "gpt-4o"): 0.1,
            ("2026-11-03", "gpt-4o-mini"): 0.0018,
            ("2026-11-03", "acme-7b"): 0.0,
        }
    )
    # the largest spender lowest in each stack and first in the legend
    assert bars["model_id"].drop_duplicates().tolist() == ["gpt-4o", "gpt-4o-mini", "acme-7b"]
    assert daily.spec["encoding"]["color"]["sort"] == ["gpt-4o", "gpt-4o-mini", "acme-7b"]
    assert daily.spec["encoding"]["y"]["axis"]["title"] == "USD"
    # spend per project, its total written at the bar's end: search $0.10, support $0.0018
    ends = next(frame for frame in projects.datasets.values() if "total" in frame.columns)
    assert dict(zip(ends["project"], ends["total"], strict=True)) == {
        "search": "$0.10",
        "support": "$0.00",
    }


def test_a_clicked_bar_opens_its_day_and_model_in_users_and_requests():
    def click(pick: str) -> None:
        import streamlit as st

        from ui import drilldown

        # what the browser sends for a click on the Nov 3 gpt-4o-mini bar
        bar = {"date": "2026-11-03", "model_id": "gpt-4o-mini"}
        st.session_state[drilldown.CHART_KEY] = {"selection": {pick: [bar]}}
        drilldown.on_chart_pick()

    at = AppTest.from_function(click, args=(PICK,), default_timeout=30).run()
    assert not at.exception
    assert at.session_state[drilldown.DAY_KEY] == NOV3
    assert at.session_state[drilldown.MODEL_KEY] == "gpt-4o-mini"
    assert at.session_state[drilldown.SECTION_KEY] == drilldown.SECTION
    assert drilldown.picked_bar([]) is None  # a click beside the bars picks nothing


def test_a_link_opens_the_page_on_its_days(app_db):
    _store(app_db)
    at = _usage_page(**{"from": "2026-11-02", "to": "2026-11-02"})
    assert at.segmented_control(key="usage_preset").value == "custom"
    assert at.date_input(key="usage_dates").value == (NOV2, NOV2)
    kpis = _metrics(at)
    assert (kpis["Requests"], kpis["Spend"]) == ("12", "$0.10")  # Nov 2: 10 + 2 requests, 100e9
    # days outside the data are brought inside it: Nov 3 is the last day stored
    later = _usage_page(**{"from": "2026-11-03", "to": "2027-05-01"})
    assert later.date_input(key="usage_dates").value == (NOV3, NOV3)


def test_presets_end_on_the_last_day_with_data(app_db):
    _store(app_db)
    at = _usage_page()
    assert at.segmented_control(key="usage_preset").value == "30d"
    at.segmented_control(key="usage_preset").set_value("last_month").run()
    assert _metrics(at)["Requests"] == "0"  # October has nothing
    assert at.caption[0].value.startswith("1 – 31 Oct 2026 (UTC) · compared with 1 – 30 Sep 2026")
    at.segmented_control(key="usage_preset").set_value("month").run()
    assert _metrics(at)["Requests"] == "37"


def test_kpis_show_the_change_against_the_previous_period(app_db):
    _store(app_db)
    old = _row(date(2026, 9, 20), "gpt-4o", "search", 200, 40, 50 * G)
    with make_engine(app_db).begin() as conn:
        insert_rollup(conn, [old])
    at = _usage_page()
    # 30 d ends Nov 3: Oct 5 .. Nov 3, compared with the 30 days before: Sep 5 .. Oct 4
    assert "compared with 5 Sep – 4 Oct 2026" in at.caption[0].value
    cards = {m.label: m for m in at.metric}
    # spend 101.8e9 against 50e9 pico-dollars: (101.8 - 50) / 50 = +103.6 %, shown red
    assert cards["Spend"].delta == "+103.6 %"
    assert _colour(cards["Spend"]) == "RED"  # cost going up (delta_color="inverse")
    # requests 37 against 40: -7.5 %; error rate 2 / 37 = 5.41 % against 0 %: +5.41 points
    assert cards["Requests"].delta == "-7.5 %"
    assert cards["Error rate"].delta == "+5.41 pp"
    assert cards["Month to date"].delta in ("", None)


def _colour(metric) -> str:
    """The colour a metric's delta is drawn in."""
    field = type(metric.proto).DESCRIPTOR.fields_by_name["color"]
    return field.enum_type.values_by_number[metric.proto.color].name


# ---------------------------------------------------------------- drill-down


def _requests(url: str) -> None:
    """Raw requests on Nov 2 and 3: gpt-4o logged under two names, and gpt-4o-mini."""

    def call(rid, ts, model, user, status=200):
        return {"timestamp": ts, "request_id": rid, "model": model, "user": user,
                "project": "search", "status": status, "input_tokens": 1000,
                "output_tokens": 100, "latency_ms": 700}  # fmt: skip

    records = [
        call("a", "2026-11-02T08:00:00Z", "gpt-4o", "alice"),
        call("b", "2026-11-02T09:00:00Z", "gpt-4o-2024-08-06", "bob"),
        call("c", "2026-11-02T10:00:00Z", "gpt-4o", "alice", status=500),
        call("d", "2026-11-02T11:00:00Z", "gpt-4o-mini", "carol"),
        call("e", "2026-11-03T08:00:00Z", "gpt-4o", "alice"),
    ]
    assert (
        ingest_records(
            make_engine(url), records, source="t", file_name="t.jsonl", actor=ADMIN
        ).accepted
        == 5
    )


def _rollup_day(url: str, day: date, model_id: str) -> tuple[int, int]:
    """(requests, cost) of one day and model in the rollup, by plain SQL."""
    sql = text(
        "SELECT SUM(requests), SUM(cost_pusd) FROM daily_rollup WHERE day = :d AND model_id = :m"
    )
    with make_engine(url).connect() as conn:
        n, cost = conn.execute(sql, {"d": day, "m": model_id}).one()
    return int(n), int(cost)


def test_the_drill_down_lists_a_days_requests_adding_up_to_its_rollup(app_db):
    _requests(app_db)
    at = _usage_page()
    at.session_state["usage_drill_day"] = NOV2
    at.session_state["usage_drill_model"] = "gpt-4o"
    _open(at, "Users & requests")
    cards = {m.label: m.value for m in at.metric[8:]}  # after the eight KPI cards
    requests, cost = _rollup_day(app_db, NOV2, "gpt-4o")
    # a, b (the dated snapshot is gpt-4o too) and c; each 1,000 in + 100 out at $2.50 / $10
    # per 1M = $0.0035 (the 500 still billed: its tokens were logged) -> 3 × 0.0035 = $0.0105
    assert requests == 3 and cost == 3 * 3_500_000_000
    assert cards == {"Requests": "3", "Spend": "$0.01", "Errors": "1", "Tokens": "3.3k"}
    table = next(d.value for d in at.dataframe if "Request id" in d.value.columns)
    assert sorted(table["Request id"]) == ["a", "b", "c"]
    assert set(table["Cost"]) == {fmt.usd(Decimal("0.0035"))} == {"$0.00350"}
    users = next(d.value for d in at.dataframe if "User" in d.value.columns[:1])
    assert users[["User", "Requests"]].values.tolist() == [["alice", 2], ["bob", 1]]


def test_the_drill_down_says_when_raw_rows_were_pruned(app_db):
    _requests(app_db)
    with make_engine(app_db).begin() as conn:
        conn.execute(text("DELETE FROM request_log WHERE request_id IN ('a', 'b', 'c', 'd')"))
    at = _usage_page()
    at.session_state["usage_drill_day"] = NOV2
    _open(at, "Users & requests")
    (warning,) = at.warning
    assert "no longer stored" in warning.value and "4 requests" in warning.value
    assert not [d for d in at.dataframe if "Request id" in d.value.columns]


# ---------------------------------------------------------------- demo banner


def test_demo_data_is_labelled_with_how_to_remove_it(app_db):
    load_demo(make_engine(app_db), days=3, end_day=NOV3, actor=ADMIN)
    at = _usage_page()
    banner = at.info[0].value
    assert banner.startswith("**Demo data**") and "delete upload #1" in banner
    assert "Upload logs page" in banner
    _requests(app_db)  # real data beside the demo
    at = _usage_page()
    (mixed,) = [w.value for w in at.warning if "Demo data is mixed" in w.value]
    assert "beside 5 requests of your own" in mixed
