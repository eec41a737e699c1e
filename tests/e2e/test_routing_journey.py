"""A platform engineer's journey on the Routing simulator in a real browser.

Logged traffic: 1,000 gpt-4o calls (1,600 in / 400 out, $8.00) and 200 gpt-4.1 analytics calls
(1,000 in / 500 out, $1.20). Adds one rule with the form (short gpt-4o prompts → gpt-4o-mini,
its smaller sibling, preselected; 50 %, 10 % escalation) and one typed rule (analytics: half to the Batch API), then reads the
savings, the per-rule table and the before/after chart.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy import insert

from db.engine import make_engine
from db.ingest.rollups import rebuild
from db.models import RequestLog
from tests.e2e.helpers import assert_no_errors, goto, shot, wait_idle
from tests.rows import with_keys


def _seed(url: str) -> None:
    def row(i: int, model: str, project: str, inp: int, out: int) -> dict:
        day = date(2025, 5, 1 + i % 2)
        return {
            "ts": datetime(day.year, day.month, day.day, 9, tzinfo=UTC),
            "day": day,
            "source": "journey",
            "request_id": f"{project}-{i}",
            "model": model,
            "model_id": model.removesuffix("-2024-08-06"),  # the canonical id, as ingest stores it
            "project": project,
            "input_tokens": inp,
            "output_tokens": out,
        }

    rows = [row(i, "gpt-4o-2024-08-06", "bot", 1600, 400) for i in range(1000)]
    rows += [row(i, "gpt-4.1", "analytics", 1000, 500) for i in range(200)]
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(RequestLog.__table__), with_keys(rows))
        rebuild(conn)  # the rollups of rows stored outside an ingest
    engine.dispose()
    make_engine.cache_clear()


def _metric(page: Page, label: str):
    return page.locator('[data-testid="stMetric"]').filter(has_text=label).first


def _choose(page: Page, label: str, option: str) -> None:
    select = page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first
    select.click()
    page.keyboard.type(option)
    page.get_by_role("option", name=option, exact=True).click()


def test_add_two_rules_and_read_the_savings(page: Page, app_server, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'routing.db'}"
    _seed(url)
    base = app_server(url)
    goto(page, f"{base}/routing")
    expect(page.get_by_text("No rules yet")).to_be_visible(timeout=30_000)
    expect(_metric(page, "Baseline (2 days)")).to_contain_text("$9.20")  # 8.00 + 1.20

    _choose(page, "Move traffic from", "gpt-4o")
    wait_idle(page)  # the run that offers gpt-4o's targets is over before the form is filled
    expect(page.get_by_role("combobox", name="Route to")).to_have_value(re.compile("gpt-4o-mini"))
    page.get_by_role("spinbutton", name="Share moved %").fill("50")
    page.get_by_role("spinbutton", name="Escalation %").fill("10")
    page.get_by_role("spinbutton", name="Escalation %").press("Tab")
    wait_idle(page)
    page.get_by_role("button", name="Add rule").click()
    wait_idle(page)
    expect(
        page.get_by_text("gpt-4o, input ≤ 2,000 → gpt-4o-mini 50 % escalate 10 %").first
    ).to_be_visible(timeout=30_000)
    # gpt-4o: 0.5 x 8.00 + 0.5 x (0.48 + 0.1 x 8.00) = $4.64 -> saves $3.36.
    expect(_metric(page, "Savings")).to_contain_text("$3.36")

    page.get_by_label("Or type a rule").fill("project=analytics,batch_share=0.5")
    page.get_by_role("button", name="Add typed rule").click()
    wait_idle(page)
    expect(page.get_by_text("analytics batch 50 %").first).to_be_visible(timeout=30_000)
    # gpt-4.1 analytics: half at batch prices ($0.60 for all) -> 0.60 + 0.30 = $0.90, saves $0.30.
    expect(_metric(page, "With the rules")).to_contain_text("$5.54")
    expect(_metric(page, "Savings")).to_contain_text("$3.66")
    expect(_metric(page, "Savings per month")).to_contain_text("$54.90")  # 3.66 x 30 / 2
    grid = page.locator('[data-testid="stDataFrame"]').first
    expect(grid.locator("td", has_text="94.0 %")).to_have_count(1)  # 1 - 0.48 / 8
    chart = page.locator('[data-testid="stVegaLiteChart"]').first
    expect(chart.locator("svg.marks")).to_be_visible(timeout=30_000)
    # each bar labelled with its amount: gpt-4o $8.00 -> 4.00 + 0.05 x 8.00 = $4.40, gpt-4.1
    # $1.20 -> $0.90, gpt-4o-mini $0.00 -> 500 x $0.00048 = $0.24
    labels = set(chart.locator("g.mark-text text").all_text_contents())
    assert labels >= {"$8.00", "$4.40", "$1.20", "$0.90", "$0.24"}, labels
    assert chart.locator("g.mark-rect path").count() == 6  # three models, before and after
    assert_no_errors(page)
    shot(page, "routing_two_rules")
