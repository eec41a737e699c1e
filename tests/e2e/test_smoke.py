"""Every page in a real browser, and the deep-link case on a freshly started server."""

from __future__ import annotations

from datetime import date

import pytest

from tests.actors import ADMIN
from tests.e2e.helpers import assert_no_errors, goto, shot
from tests.pages import declared_pages

PAGES = declared_pages()


@pytest.fixture
def demo_url(tmp_path) -> str:
    from db.demo import load_demo
    from db.engine import make_engine

    url = f"sqlite:///{tmp_path / 'e2e.db'}"
    load_demo(make_engine(url), days=30, end_day=date.today(), actor=ADMIN)
    make_engine.cache_clear()
    return url


def test_every_page_renders_without_errors(page, app_server, demo_url):
    base = app_server(demo_url)
    for info in PAGES:
        goto(page, f"{base}/{info.url_path}")
        assert_no_errors(page)
        heading = page.locator("h1").first.inner_text()
        assert heading.strip(), f"{info.url_path} has no title"
        shot(page, f"page_{info.url_path}")


def test_every_page_renders_on_an_empty_database(page, app_server, tmp_path):
    base = app_server(f"sqlite:///{tmp_path / 'empty.db'}")
    for info in PAGES:
        goto(page, f"{base}/{info.url_path}")
        assert_no_errors(page)
        shot(page, f"empty_{info.url_path}")


@pytest.mark.parametrize(
    "target", [p for p in PAGES if not p.default][:1] or PAGES[:1], ids=lambda p: p.url_path
)
def test_deep_link_on_a_fresh_server_runs_the_app_shell(page, app_server, tmp_path, target):
    # The very first request this server sees is the deep link (no warm-up of "/").
    base = app_server(f"sqlite:///{tmp_path / 'deep.db'}")
    goto(page, f"{base}/{target.url_path}")
    assert_no_errors(page)
    nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
    for section in ("Settings",):
        assert section in nav, nav
    assert target.title in nav
    assert page.locator("h1").first.inner_text().strip() == target.title
    assert page.title() != "", "set_page_config from app.py ran"
    shot(page, f"deeplink_{target.url_path}")
