"""The Usage page's "Import from OpenAI" button: present empty or full, and a clear message
instead of a traceback when no admin key is configured."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from db.engine import make_engine
from tests.app.shown import shown

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def usage(tmp_path, monkeypatch) -> AppTest:
    monkeypatch.setenv("COSTDESK_DATABASE_URL", f"sqlite:///{tmp_path / 'u.db'}")
    monkeypatch.delenv("OPENAI_ADMIN_KEY", raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page("views/usage.py").run()
    yield at
    make_engine.cache_clear()


def test_import_without_a_key_explains_what_to_set(usage: AppTest):
    assert any("OPENAI_ADMIN_KEY" in c.value for c in usage.caption)
    usage.button(key="usage_import").click().run()
    assert not usage.exception
    assert not usage.error  # the button says what is missing instead of failing
    assert any("OPENAI_ADMIN_KEY" in shown(w.value) for w in usage.warning)
