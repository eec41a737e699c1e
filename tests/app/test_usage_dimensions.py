"""Usage page in AppTest: the key, team, environment and tag filters narrow the KPIs, and the
"Who spent it" section splits the filtered spend by the chosen dimension (by hand)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from db.engine import make_engine
from db.ingest import ingest_records
from tests.actors import ADMIN
from ui import format as fmt
from ui.dimensions import OTHER_LABEL

ROOT = Path(__file__).resolve().parents[2]
# gpt-4o-mini at $0.15 in / $0.60 out per million: a = $0.15, b = $0.60, c = $0.30, d = $0.075
LOG = [
    ("a", 1_000_000, 0, "cust-42", "support-prod", "support", "prod", ["support"]),
    ("b", 0, 1_000_000, "cust-42", "support-prod", "support", "prod", ["team=search"]),
    ("c", 2_000_000, 0, "cust-7", "batch-dev", "search", "dev", ["support"]),
    ("d", 100_000, 100_000, None, None, None, None, None),
]


@pytest.fixture
def app_db(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path / 'usage.db'}"
    monkeypatch.setenv("COSTDESK_DATABASE_URL", url)
    st.cache_data.clear()
    st.cache_resource.clear()
    records = [
        {"timestamp": "2026-03-02T10:00:00Z", "request_id": rid, "model": "gpt-4o-mini",
         "input_tokens": tin, "output_tokens": tout, "user": user, "key_label": key,
         "team": team, "environment": env, "tags": tags}
        for rid, tin, tout, user, key, team, env, tags in LOG
    ]  # fmt: skip
    ingest_records(make_engine(url), records, source="t", file_name="d.jsonl", actor=ADMIN)
    yield url
    st.cache_data.clear()
    make_engine.cache_clear()


def _page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("views/usage.py").run()
    at.session_state["usage_section"] = "Who spent it"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _split(at: AppTest) -> dict[str, float]:
    (table,) = [d.value for d in at.dataframe if "Value" in d.value.columns]
    return dict(zip(table["Value"], table["Cost"].round(6), strict=True))


def test_filters_offer_what_is_stored_and_narrow_the_kpis(app_db):
    at = _page()
    assert at.multiselect(key="usage_tags").options == ["support", "team=search"]
    assert at.multiselect(key="usage_teams").options == ["(none)", "search", "support"]
    at.multiselect(key="usage_tags").set_value(["support"])
    at.button(key="usage_apply").click().run()
    assert {m.label: m.value for m in at.metric}["Spend"] == fmt.usd(Decimal("0.45"))
    at.multiselect(key="usage_tags").set_value([])
    at.multiselect(key="usage_environments").set_value(["prod"])
    at.button(key="usage_apply").click().run()
    assert {m.label: m.value for m in at.metric}["Spend"] == fmt.usd(Decimal("0.75"))
    assert any("do not narrow them" in c.value for c in at.caption)
    assert not at.exception


@pytest.mark.parametrize(
    ("group", "expected"),
    [
        ("team", {"support": 0.75, "search": 0.30, "unallocated": 0.075}),
        ("key", {"support-prod": 0.75, "batch-dev": 0.30, "unallocated": 0.075}),
        ("environment", {"prod": 0.75, "dev": 0.30, "unallocated": 0.075}),
        ("tag", {"support": 0.45, "team=search": 0.60, "unallocated": 0.075}),
        ("user", {"cust-42": 0.75, "cust-7": 0.30, "unallocated": 0.075}),
    ],
)
def test_group_by_each_dimension(app_db, group: str, expected: dict[str, float]):
    at = _page()
    at.selectbox(key="usage_group_by").set_value(group)
    at.button(key="usage_apply").click().run()
    assert _split(at) == expected
    assert OTHER_LABEL not in _split(at)


def test_group_by_user_under_a_filter_reads_the_rows(app_db):
    at = _page()
    at.selectbox(key="usage_group_by").set_value("user")
    at.multiselect(key="usage_key_labels").set_value(["support-prod"])
    at.button(key="usage_apply").click().run()
    assert _split(at) == {"cust-42": 0.75}
