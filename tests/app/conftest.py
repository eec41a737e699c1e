"""What the page tests share: an empty SQLite database the app opens, with Streamlit's caches
cleared around each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st

from db.engine import make_engine


@pytest.fixture
def app_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The URL of a fresh database, set as COSTDESK_DATABASE_URL for the app."""
    url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("COSTDESK_DATABASE_URL", url)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield url
    st.cache_data.clear()
    make_engine.cache_clear()
