"""Chargeback in headless Chromium: a month by project on demo data, another dimension, and a
printable report that prints to PDF."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tests.actors import ADMIN
from tests.e2e.helpers import SHOTS, assert_no_errors, goto, shot, wait_idle
from tests.pages import declared_pages

pytestmark = pytest.mark.skipif(
    "chargeback" not in {p.url_path for p in declared_pages()},
    reason="the Chargeback page (views/chargeback.py, url_path 'chargeback') is not in app.py's "
    "navigation yet",
)


@pytest.fixture
def demo_url(tmp_path) -> str:
    from db.demo import load_demo
    from db.engine import make_engine

    url = f"sqlite:///{tmp_path / 'chargeback-e2e.db'}"
    load_demo(
        make_engine(url), days=45, end_day=date.today(), actor=ADMIN
    )  # last month whole, this one begun
    make_engine.cache_clear()
    return url


def _charts_drawn(page) -> int:
    """Charts on the page that have drawn."""
    charts = page.locator('[data-testid="stVegaLiteChart"]')
    return sum(1 for i in range(charts.count()) if charts.nth(i).locator("svg.marks").count())


def _choose(page, label: str, option: str) -> None:
    """Pick `option` in the select box labelled `label`."""
    page.locator('[data-testid="stSelectbox"]').filter(has_text=label).click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)


def test_month_by_project_then_by_user_and_print_the_report(page, app_server, demo_url, tmp_path):
    base = app_server(demo_url)
    goto(page, f"{base}/chargeback")
    assert page.locator("h1").first.inner_text().strip() == "Chargeback"
    assert_no_errors(page)
    assert page.locator('[data-testid="stMetric"]').count() == 3
    assert _charts_drawn(page) == 1
    assert page.locator('[data-testid="stDataFrame"]').count() == 1
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert "Spend, " in main and "Change" in main
    shot(page, "chargeback_project")

    _choose(page, "Cost centre", "User")
    assert_no_errors(page)
    assert _charts_drawn(page) == 1
    _choose(page, "Cost centre", "Project")

    with page.expect_download() as info:
        page.get_by_role("button", name="Printable report").click()
    report = Path(info.value.path()).read_text()
    assert report.startswith("<!DOCTYPE html>") and "Chargeback by project" in report
    printed = page.context.new_page()
    printed.set_content(report)
    printed.emulate_media(media="print")
    SHOTS.mkdir(parents=True, exist_ok=True)
    printed.screenshot(path=str(SHOTS / "chargeback_report.png"), full_page=True)
    pdf = printed.pdf(format="A4", print_background=True)
    printed.close()
    assert pdf.startswith(b"%PDF")
    assert pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page>") + pdf.count(b"/Type/Page") >= 1
    (tmp_path / "chargeback.pdf").write_bytes(pdf)
