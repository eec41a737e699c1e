"""Every page renders in real Streamlit (AppTest) with no exception, empty and with data."""

from __future__ import annotations

from datetime import date

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.actors import ADMIN
from tests.pages import ROOT, declared_pages

PAGES = declared_pages()


@pytest.fixture
def app_db(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("COSTDESK_DATABASE_URL", url)
    st.cache_data.clear()
    st.cache_resource.clear()
    return url


def _visit(page_path: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90).run()
    at.switch_page(page_path).run()
    return at


def test_app_declares_the_four_sections_pages():
    assert any(p.path == "views/price_book.py" for p in PAGES)
    assert all((ROOT / p.path).exists() for p in PAGES)
    assert not (ROOT / "pages").exists(), "a pages/ folder breaks deep links with st.navigation"


@pytest.mark.parametrize("page", PAGES, ids=[p.url_path for p in PAGES])
def test_every_page_renders_on_an_empty_database(app_db, page):
    at = _visit(page.path)
    assert not at.exception, [e.value for e in at.exception]


@pytest.mark.parametrize("page", PAGES, ids=[p.url_path for p in PAGES])
def test_every_page_renders_with_demo_data(app_db, page):
    from db.demo import load_demo
    from db.engine import make_engine

    load_demo(make_engine(app_db), days=14, end_day=date(2026, 11, 20), actor=ADMIN)
    at = _visit(page.path)
    assert not at.exception, [e.value for e in at.exception]
    make_engine.cache_clear()
