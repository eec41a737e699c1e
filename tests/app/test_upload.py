"""The Upload logs page through AppTest: upload, report, rejected lines, CSV mapping, delete."""

from __future__ import annotations

import orjson
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.pages import ROOT

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
    assert sorted(history["file_name"]) == ["a.jsonl", "b.jsonl"]

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
    assert any("Re-priced 1 requests" in s.value for s in at.success)
