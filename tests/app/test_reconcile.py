"""The Reconciliation page through AppTest: empty state, missing key, samples, OpenAI and
Anthropic imports, table, errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.actors import ADMIN
from tests.app.charts import chart_keys, charts
from tests.app.shown import shown
from tests.integrations.fake_openai import (
    FakeOpenAI,
    Reply,
    bucket,
    cost_result,
    error_body,
    usage_result,
)
from tests.pages import ROOT

PAGE = "views/reconcile.py"
D1, D2 = date(2026, 11, 20), date(2026, 11, 21)
MINI = "gpt-4o-mini-2024-07-18"


@pytest.fixture
def db_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "reconcile.db"
    monkeypatch.setenv("COSTDESK_DATABASE_URL", f"sqlite:///{path}")
    for name in ("OPENAI_ADMIN_KEY", "COSTDESK_OPENAI_BASE_URL", "ANTHROPIC_ADMIN_KEY",
                 "COSTDESK_ANTHROPIC_BASE_URL"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()
    return path


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    url = fake.start()
    # 10 mini calls of 1000 in / 500 out = 10 x (150 + 300) micro-USD = $0.0045 a day.
    fake.pages["/organization/usage/completions"] = [
        [bucket(D1, [usage_result(MINI, 10, 10_000, 5_000)])],
        [bucket(D2, [usage_result(MINI, 12, 12_000, 6_000)])],
    ]
    fake.pages["/organization/costs"] = [
        [
            bucket(D1, [cost_result(f"{MINI}, input", 0.0015), cost_result(f"{MINI}, output", 0.003)]),
            bucket(D2, [cost_result(f"{MINI}, input", 0.0018), cost_result(f"{MINI}, output", 0.0036),
                        cost_result("web search tool calls", 0.01)]),
        ]
    ]  # fmt: skip
    monkeypatch.setenv("OPENAI_ADMIN_KEY", "sk-admin-apptest")
    monkeypatch.setenv("COSTDESK_OPENAI_BASE_URL", url)
    yield fake
    fake.stop()


def open_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page(PAGE).run()
    assert not at.exception
    return at


def log_calls(db_file: Path) -> None:
    from db.engine import make_engine
    from db.ingest import ingest_records

    records = [
        {
            "timestamp": f"{day.isoformat()}T08:00:{i:02d}Z",
            "request_id": f"req_{day}_{i}",
            "model": MINI,
            "input_tokens": 1000,
            "output_tokens": 500,
        }
        for day in (D1, D2)
        for i in range(10)
    ]
    ingest_records(
        make_engine(f"sqlite:///{db_file}"), records, source="app", file_name="a.jsonl", actor=ADMIN
    )


def texts(elements: object) -> str:
    return " ".join(shown(str(e.value)) for e in elements)  # type: ignore[attr-defined]


def test_empty_state_without_key_explains_what_to_do(db_file: Path) -> None:
    at = open_page()
    assert "Nothing to reconcile yet" in texts(at.info)
    assert "explains each difference" in texts(at.info)
    assert "No admin key yet" in texts(at.caption)
    at.button(key="reconcile_import").click().run()
    assert not at.exception and not at.error  # says what is missing instead of failing
    assert "No OpenAI admin key is configured yet: set `OPENAI_ADMIN_KEY`" in texts(at.warning)
    assert not at.dataframe
    at.segmented_control(key="reconcile_provider").set_value("anthropic").run()
    assert "Import from Anthropic" in [b.label for b in at.button]
    at.button(key="reconcile_import").click().run()
    assert "set `ANTHROPIC_ADMIN_KEY`" in texts(at.warning)
    assert "import-anthropic" in " ".join(c.value for c in at.code)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_sample_pages_show_what_the_page_does(db_file: Path, provider: str) -> None:
    at = open_page()
    at.segmented_control(key="reconcile_provider").set_value(provider).run()
    at.button(key=f"reconcile_sample_{provider}").click().run()
    assert not at.exception
    assert "sample usage and cost rows" in texts(at.success)
    metrics = {m.label: m.value for m in at.metric}
    name = "OpenAI" if provider == "openai" else "Anthropic"
    # 30 logged calls of 1,000 in / 200 out; the provider counted 32 and billed a web search.
    # gpt-4o-mini: 30 x (150 + 120) micro-USD = $0.0081; billed 32 x 270 + $0.01 = $0.01864.
    # claude-haiku-4-5: 30 x (1,000 + 1,000) micro-USD = $0.06; billed 32 x 2,000 + $0.01.
    expected = {"openai": ("$0.00810", "$0.02"), "anthropic": ("$0.06", "$0.07")}[provider]
    assert (metrics["Computed from logs"], metrics[f"Billed by {name}"]) == expected
    assert metrics["Day × model rows flagged"] == "2"
    flagged = at.dataframe[0].value
    assert len(flagged) == 2 and "(other line items)" in set(flagged["Model"])
    assert "Nothing to reconcile yet" not in texts(at.info)


def test_import_then_reconcile(db_file: Path, api: FakeOpenAI) -> None:
    log_calls(db_file)
    at = open_page()
    assert "Admin key configured" in texts(at.caption)
    at.selectbox(key="reconcile_days").set_value(7)
    at.button(key="reconcile_import").click().run()
    assert not at.exception
    assert "Imported 2 usage rows and 5 cost rows for the last 7 days" in texts(at.success)
    assert api.requests[0].query["limit"] == ["7"]
    metrics = {m.label: m.value for m in at.metric}
    # computed 2 x $0.0045 = $0.009; billed 0.0045 + 0.0054 + 0.01 = $0.0199
    assert metrics["Computed from logs"] == "$0.00900"
    assert metrics["Billed by OpenAI"] == "$0.02"  # $0.0199 shown to the cent
    assert metrics["Day × model rows flagged"] == "2"
    assert len(at.dataframe) == 1  # the flagged rows; all rows on demand
    _assert_chart(at, "OpenAI")
    at.toggle(key="reconcile_show_all").set_value(True).run()
    flagged, everything = (d.value for d in at.dataframe)
    assert len(everything) == 3 and everything["Flagged"].sum() == 2
    causes = dict(zip(flagged["Model"], flagged["Likely cause"], strict=True))
    assert causes == {
        "gpt-4o-mini": "calls missing from the logs (2 of 12)",
        "(other line items)": "non-token line items (tools, storage, audio): not in request logs",
    }
    assert list(flagged["Day"]) == [D2, D2]

    at.number_input(key="reconcile_tolerance").set_value(25.0)
    at.button(key="reconcile_apply").click().run()
    assert len(at.dataframe[0].value) == 1  # only the web search line item is still over
    assert "Differences over 25 %" in [h.value for h in at.subheader]


def _assert_chart(at: AppTest, provider: str) -> None:
    """Per day: computed 10 x $0.00045 = $0.0045 both days; billed $0.0045 on the 20th and
    0.0054 + the $0.01 web search = $0.0154 on the 21st, the flagged day, marked 8 % above it."""
    assert chart_keys(at) == ["reconcile_chart"]
    (chart,) = charts(at)
    marks = next(f for f in chart.datasets.values() if "note" in f)
    bars = next(f for f in chart.datasets.values() if "note" not in f)
    bars["day"] = bars["day"].dt.date
    billed = f"Billed by {provider}"
    assert bars.set_index(["day", "series"])["usd"].round(9).to_dict() == {
        (D1, "Computed from logs"): 0.0045, (D2, "Computed from logs"): 0.0045,
        (D1, billed): 0.0045, (D2, billed): 0.0154,
    }  # fmt: skip
    assert marks["day"].dt.date.tolist() == [D2]
    assert marks["usd"].round(9).tolist() == [0.016632]
    assert chart.spec["layer"][0]["encoding"]["color"]["scale"]["domain"] == [
        "Computed from logs",
        billed,
        "Differs by more than the tolerance",
    ]


def test_rejected_key_shows_an_error_not_a_traceback(db_file: Path, api: FakeOpenAI) -> None:
    api.script(
        Reply(
            status=401,
            body=error_body("Incorrect API key", "invalid_request_error", "invalid_api_key"),
        )
    )
    at = open_page()
    at.button(key="reconcile_import").click().run()
    assert not at.exception
    assert "rejected the admin key" in texts(at.error)
    assert "Nothing to reconcile yet" in texts(at.info)


def test_dates_outside_the_data_say_so(db_file: Path, api: FakeOpenAI) -> None:
    at = open_page()
    at.button(key="reconcile_import").click().run()
    at.date_input(key="reconcile_dates").set_value((D2 + timedelta(days=5), D2 + timedelta(days=6)))
    at.button(key="reconcile_apply").click().run()
    assert not at.exception
    assert "Widen the range" in texts(at.info)


def test_anthropic_import_then_reconcile(db_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.integrations import fake_anthropic as ant

    haiku = "claude-haiku-4-5-20251001"
    fake = ant.FakeAnthropic("sk-ant-admin01-apptest")
    url = fake.start()
    # Haiku 4.5 at $1 / $5 per 1M: D1 10,000 in + 2,000 out = 1 + 1 cents; D2 counted 12,000
    # in + 2,400 out = 1.2 + 1.2 cents against 10 logged calls of 1,000 / 200.
    fake.pages[ant.USAGE_PATH] = [
        [
            ant.bucket(D1, [ant.usage_result(haiku, 10_000, 2_000)]),
            ant.bucket(D2, [ant.usage_result(haiku, 12_000, 2_400)]),
        ]
    ]
    fake.pages[ant.COST_PATH] = [[
        ant.bucket(D1, [ant.cost_result("1", model=haiku, token_type="uncached_input_tokens"),
                        ant.cost_result("1", model=haiku, token_type="output_tokens")]),
        ant.bucket(D2, [ant.cost_result("1.2", model=haiku, token_type="uncached_input_tokens"),
                        ant.cost_result("1.2", model=haiku, token_type="output_tokens")]),
    ]]  # fmt: skip
    monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", "sk-ant-admin01-apptest")
    monkeypatch.setenv("COSTDESK_ANTHROPIC_BASE_URL", url)
    from db.engine import make_engine
    from db.ingest import ingest_records
    from tests.db.test_reconcile import calls

    logs = calls(D1, haiku, 10, 1000, 200) + calls(D2, haiku, 10, 1000, 200)
    ingest_records(
        make_engine(f"sqlite:///{db_file}"), logs, source="app", file_name="a.jsonl", actor=ADMIN
    )
    try:
        at = open_page()
        at.segmented_control(key="reconcile_provider").set_value("anthropic").run()
        assert "Admin key configured" in texts(at.caption)
        at.button(key="reconcile_import").click().run()
        assert not at.exception
        assert "Imported 2 usage rows and 4 cost rows" in texts(at.success)
        metrics = {m.label: m.value for m in at.metric}
        # computed 20 x $0.002 = $0.04; billed 0.02 + 0.024 = $0.044
        assert (metrics["Computed from logs"], metrics["Billed by Anthropic"]) == ("$0.04", "$0.04")
        assert metrics["Difference"] == "-$0.00400"
        (chart,) = charts(at)
        bars = next(f for f in chart.datasets.values() if "note" not in f)
        assert set(bars["series"]) == {"Computed from logs", "Billed by Anthropic"}
        (cause,) = at.dataframe[0].value["Likely cause"]
        assert cause == "tokens missing from the logs (2,400 of 14,400)"
    finally:
        fake.stop()
