"""Usage page in headless Chromium: charts with data, every tab (each drawn only while open), and
the /usage deep link."""

from __future__ import annotations

from datetime import date

import pytest

from tests.actors import ADMIN
from tests.e2e.helpers import SHOTS, assert_no_errors, goto, shot, wait_idle

TABS = ("Tokens & caching", "Errors & latency", "Cost of failure", "max_tokens audit")


@pytest.fixture
def demo_url(tmp_path) -> str:
    from db.demo import load_demo
    from db.engine import make_engine

    url = f"sqlite:///{tmp_path / 'usage-e2e.db'}"
    load_demo(make_engine(url), days=14, end_day=date.today(), actor=ADMIN)
    make_engine.cache_clear()
    return url


_PANEL_DRAWN = """() => {
  const panel = document.querySelector('[role="tabpanel"]:not([hidden])');
  if (!panel) return false;
  const charts = panel.querySelectorAll('[data-testid="stVegaLiteChart"]');
  return charts.length > 0 && [...charts].every(c => c.querySelector('svg.marks'));
}"""


def shot_dir(name: str):
    """Where a tab's screenshot goes (next to the helpers' full-page shots)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS / f"{name}.png"


def _charts_drawn(page) -> int:
    """Charts on the page that have drawn their marks."""
    charts = page.locator('[data-testid="stVegaLiteChart"]')
    return sum(charts.nth(i).locator("svg.marks").count() > 0 for i in range(charts.count()))


def test_usage_with_data_draws_every_chart_without_errors(page, app_server, demo_url):
    base = app_server(demo_url)
    goto(page, f"{base}/usage")  # the first request of this server is the deep link
    page.wait_for_function(_PANEL_DRAWN, timeout=60_000)  # the first run may still be on its way
    assert page.locator("h1").first.inner_text().strip() == "Usage"
    assert "Usage" in page.locator('[data-testid="stSidebarNav"]').inner_text()
    assert page.locator('[data-testid="stMetric"]').count() >= 8
    assert_no_errors(page)
    assert _charts_drawn(page) >= 2
    assert page.get_by_text("Spend by model", exact=True).count() == 1
    shot(page, "usage_cost")
    page.get_by_text("By logged name").click()  # the drill-down, on demand
    wait_idle(page)
    assert_no_errors(page)
    frames = page.locator('[data-testid="stDataFrame"]')
    assert frames.count() == 3  # per model, per logged name, per project and feature
    page.set_viewport_size({"width": 1280, "height": 2000})  # the whole tab in each shot
    for number, tab in enumerate(TABS, start=2):
        page.get_by_role("tab", name=tab).click()
        # A tab switch runs no script; wait for the shown panel's charts. (wait_idle would wait
        # forever for the canvas of the data grid now hidden in the first tab.)
        page.wait_for_function(_PANEL_DRAWN, timeout=30_000)
        wait_idle(page)
        assert_no_errors(page)
        page.screenshot(path=str(shot_dir(f"usage_tab{number}")))
    # sections are lazy: only the open one (the max_tokens audit: one chart) is on the page
    assert _charts_drawn(page) == 1
    assert "usage_section=max_tokens+audit" in page.url


def test_root_serves_usage_and_an_empty_database_explains_how_to_load(page, app_server, tmp_path):
    base = app_server(f"sqlite:///{tmp_path / 'empty.db'}")
    goto(page, f"{base}/usage")
    page.get_by_text("python cli.py demo").wait_for(timeout=60_000)
    assert page.locator("h1").first.inner_text().strip() == "Usage"
    body = page.locator('[data-testid="stMain"]').inner_text()
    assert "python cli.py demo" in body and "python cli.py ingest FILE" in body
    assert_no_errors(page)
    goto(page, base)
    page.get_by_text("python cli.py demo").wait_for(timeout=60_000)
    assert page.locator("h1").first.inner_text().strip() == "Usage"
    assert_no_errors(page)
    shot(page, "usage_empty")
