"""The Upload logs page through AppTest: upload, report, rejected lines, CSV mapping, delete."""

from __future__ import annotations

import tomllib
from decimal import Decimal

import orjson
import pytest
import streamlit as st
from streamlit import config
from streamlit.testing.v1 import AppTest

from tests.app.shown import shown
from tests.pages import ROOT
from ui.format import escape_markdown, usd

GOOD = {"timestamp": "2025-06-01T10:00:00Z", "request_id": "a1", "model": "gpt-4o-mini",
        "input_tokens": 1000, "output_tokens": 200, "latency_ms": 800, "status": 200}  # fmt: skip


def jsonl(*records: dict) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


@pytest.fixture
def at(tmp_path, monkeypatch) -> AppTest:
    monkeypatch.setenv("COSTDESK_DATABASE_URL", f"sqlite:///{tmp_path / 'u.db'}")
    st.cache_data.clear()
    st.cache_resource.clear()
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90).run()
    app.switch_page("views/upload.py").run()
    return app


def test_empty_state_says_how_to_load_data(at: AppTest) -> None:
    assert not at.exception
    assert any("No uploads yet" in i.value for i in at.info)


def test_upload_two_files_and_read_the_report(at: AppTest) -> None:
    bad = {**GOOD, "request_id": "b2", "output_tokens": True}
    at.file_uploader(key="upload_files").set_value(
        [("a.jsonl", jsonl(GOOD), "application/json"),
         ("b.jsonl", jsonl({**GOOD, "request_id": "b1"}, bad), "application/json")]
    ).run()  # fmt: skip
    at.button(key="upload_go").click().run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    # two good lines of 1000 in / 200 out on gpt-4o-mini: 2 x 0.00027 = 0.00054
    assert metrics["Accepted"] == "2" and metrics["Rejected"] == "1"
    assert metrics["Cost added"] == "$0.000540"
    errors = at.dataframe[0].value
    assert list(errors[["file", "line", "field"]].iloc[0]) == ["b.jsonl", 2, "output_tokens"]
    history = at.dataframe[1].value
    assert sorted(history["File"]) == ["a.jsonl", "b.jsonl"]
    assert set(history["Days (UTC)"]) == {"1 Jun 2025"}  # each stored requests of 1 Jun

    at.checkbox(key="upload_delete_confirm").check().run()
    at.button(key="upload_delete").click().run()
    assert any("Deleted upload" in s.value for s in at.success)
    assert len(at.dataframe[0].value) == 1


def test_csv_mapping_is_asked_for_and_remembered(at: AppTest) -> None:
    data = b"when,id,llm,in,out\n2025-06-01T00:00:00Z,c1,gpt-4o,1000,100\n"
    at.file_uploader(key="upload_files").set_value(("x.csv", data, "text/csv")).run()
    uploader_id = at.session_state["upload_files"][0].file_id
    for field, column in {"timestamp": "when", "request_id": "id", "model": "llm",
                          "input_tokens": "in", "output_tokens": "out"}.items():  # fmt: skip
        at.selectbox(key=f"upload_map_{uploader_id}_{field}").set_value(column)
    at.run()
    at.button(key="upload_go").click().run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    # 1000 x 2.50 + 100 x 10.00 per 1M = 0.0035
    assert metrics["Accepted"] == "1" and metrics["Cost added"] == "$0.00350"
    at.file_uploader(key="upload_files").set_value(("y.csv", data, "text/csv")).run()
    again_id = at.session_state["upload_files"][0].file_id
    assert at.selectbox(key=f"upload_map_{again_id}_input_tokens").value == "in"


def test_reprice_button(at: AppTest) -> None:
    at.file_uploader(key="upload_files").set_value(
        ("a.jsonl", jsonl(GOOD), "application/json")
    ).run()
    at.button(key="upload_go").click().run()
    at.button(key="upload_reprice").click().run()
    assert not at.exception
    assert any("Re-priced 1 request:" in s.value for s in at.success)


def test_the_upload_limit_is_stated_beside_the_uploader(at: AppTest) -> None:
    configured = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    limit_mb = configured["server"]["maxUploadSize"]
    assert limit_mb == 512
    assert any(f"Up to {limit_mb} MB per file" in c.value for c in at.caption)


def test_a_file_over_the_limit_is_refused_with_a_message(at: AppTest) -> None:
    before = config.get_option("server.maxUploadSize")
    config.set_option("server.maxUploadSize", 1)
    try:
        big = jsonl(GOOD) + b" " * (1 << 20)
        at.file_uploader(key="upload_files").set_value(
            [("big_[1].jsonl", big, "application/json"), ("a.jsonl", jsonl(GOOD), "text/plain")]
        ).run()
    finally:
        config.set_option("server.maxUploadSize", before)
    assert not at.exception
    (error,) = at.error
    assert escape_markdown("big_[1].jsonl") in error.value
    assert "over the 1 MB upload limit" in error.value
    assert at.button(key="upload_go").label == "Ingest 1 file"


def test_delete_names_its_rows_and_how_to_restore_them(at: AppTest) -> None:
    first = jsonl(GOOD, {**GOOD, "request_id": "a2"})
    second = jsonl(GOOD, {**GOOD, "request_id": "b1"})  # a1 again: a duplicate, not stored twice
    for name, data in (("first.jsonl", first), ("second.jsonl", second)):
        at.file_uploader(key="upload_files").set_value((name, data, "application/json")).run()
        at.button(key="upload_go").click().run()
    history = at.dataframe[-1].value.set_index("File")
    assert history.loc["second.jsonl", "Duplicates"] == 1
    first_id, second_id = (int(history.loc[f, "id"]) for f in ("first.jsonl", "second.jsonl"))
    at.selectbox(key="upload_delete_id").set_value(first_id).run()
    assert at.checkbox(key="upload_delete_confirm").label == "Also delete its 2 requests"
    notice = at.warning[-1].value
    assert f"Deleting #{first_id} {escape_markdown('first.jsonl')} removes the 2 requests" in notice
    assert f"#{second_id} {escape_markdown('second.jsonl')} (1)" in notice

    at.checkbox(key="upload_delete_confirm").check().run()
    at.button(key="upload_delete").click().run()
    assert not at.exception
    (done,) = at.success
    assert "and its 2 requests" in done.value
    restore = f"ingest their files again: #{second_id} {escape_markdown('second.jsonl')}"
    assert restore in done.value


# ---------------------------------------------------------------- what was stored, and where


def _january() -> bytes:
    """Nine calls on 14, 15 and 16 January 2026, with prompt and completion text in them."""
    calls = []
    for day, count in ((14, 4), (15, 3), (16, 2)):
        for i in range(count):
            calls.append({"timestamp": f"2026-01-{day}T{9 + i:02d}:15:00Z",
                          "request_id": f"jan-{day}-{i}", "project": "helpdesk",
                          "model": "gpt-4o" if i % 2 == 0 else "gpt-4o-mini",
                          "input_tokens": 2000, "output_tokens": 400,
                          "messages": [{"role": "user", "content": "private question"}],
                          "choices": [{"message": {"content": "private answer"}}]})  # fmt: skip
    return jsonl(*calls)


# gpt-4o: 2,000 in x $2.50 + 400 out x $10.00 per 1M = 0.005 + 0.004 = $0.009 a call (5 calls)
# gpt-4o-mini: 2,000 x $0.15 + 400 x $0.60 per 1M = 0.0003 + 0.00024 = $0.00054 (4 calls)
JANUARY_USD = 5 * Decimal("0.009") + 4 * Decimal("0.00054")  # = 0.04716


def test_the_report_names_the_days_stored_and_links_to_them(at: AppTest) -> None:
    at.file_uploader(key="upload_files").set_value(
        ("jan.jsonl", _january(), "application/json")
    ).run()
    at.button(key="upload_go").click().run()
    assert not at.exception
    stored = next(m.value for m in at.markdown if m.value.startswith("Stored"))
    assert shown(stored) == (
        "Stored 9 requests from **14 – 16 Jan 2026** (UTC) · models gpt-4o, gpt-4o-mini · "
        "project helpdesk."
    )
    (link,) = at.get("page_link")
    assert link.proto.label == "Open Usage on 14 – 16 Jan 2026"
    assert link.proto.query_string == "from=2026-01-14&to=2026-01-16"
    assert {m.label: m.value for m in at.metric}["Cost added"] == "$0.05"  # 0.04716
    (left_out,) = [i.value for i in at.info if "Left out before storing" in i.value]
    assert "Completion text dropped from 9 records" in left_out
    assert "Prompt messages dropped from 9 records" in left_out
    history = at.dataframe[-1].value
    assert history["Days (UTC)"].tolist() == ["14 – 16 Jan 2026"]

    usage = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    usage.query_params.update({"from": "2026-01-14", "to": "2026-01-16"})
    usage.run()
    assert not usage.exception
    kpis = {m.label: m.value for m in usage.metric}
    assert kpis["Requests"] == "9" and kpis["Spend"] == usd(JANUARY_USD) == "$0.05"
    assert usage.caption[0].value.startswith("14 – 16 Jan 2026 (UTC)")
    models = next(d.value for d in usage.dataframe if "Logged names" in d.value.columns)
    spend = dict(zip(models["Model"], models["Spend (USD)"], strict=True))
    assert spend == {"gpt-4o": 0.045, "gpt-4o-mini": 0.00216}  # 5 × 0.009, 4 × 0.00054
    assert sum(Decimal(str(v)) for v in spend.values()) == JANUARY_USD


def test_an_upload_of_nothing_new_says_so(at: AppTest) -> None:
    for name in ("one.jsonl", "again.jsonl"):
        at.file_uploader(key="upload_files").set_value((name, jsonl(GOOD), "text/plain")).run()
        at.button(key="upload_go").click().run()
    assert any("No new request was stored" in m.value for m in at.markdown)
    assert not at.get("page_link") or all(
        "Open Usage" not in p.proto.label for p in at.get("page_link")
    )
