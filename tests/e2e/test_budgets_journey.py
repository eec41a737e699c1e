"""A team lead sets a budget in the browser, reads its card and forecast, acknowledges the alert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from db.budgets import DEFAULT_THRESHOLDS, list_events
from db.engine import make_engine
from tests.e2e.helpers import assert_no_errors, goto, shot, wait_idle
from tests.rows import insert_rollup


@pytest.fixture
def spend_url(tmp_path) -> str:
    """$10 a day for the last 40 UTC days, today included."""
    url = f"sqlite:///{tmp_path / 'journey.db'}"
    today = datetime.now(UTC).date()
    rows = [
        {"day": today - timedelta(days=i), "model": "acme-1", "model_id": "acme-1",
         "project": "search", "cost_pusd": 10 * 10**12}
        for i in range(40)
    ]  # fmt: skip
    with make_engine(url).begin() as conn:
        insert_rollup(conn, rows)
    make_engine.cache_clear()
    return url


def test_create_budget_see_forecast_and_acknowledge(page, app_server, spend_url) -> None:
    base = app_server(spend_url)
    goto(page, f"{base}/budgets")
    assert_no_errors(page)
    expect(page.get_by_text("No budgets yet")).to_be_visible()

    # A misspelt project is refused with the closest logged one as a suggestion.
    page.get_by_label("Name").fill("Team")
    page.get_by_label("Monthly amount").fill("15")
    page.get_by_role("textbox", name="Scope", exact=True).fill("project:serch")
    page.get_by_role("button", name="Save budget").click()
    wait_idle(page)
    expect(
        page.get_by_text("no project named 'serch' has traffic; did you mean search?")
    ).to_be_visible()

    # $15 a month while at least $10 is spent this month: past the 50 % threshold on any day.
    page.get_by_role("textbox", name="Scope", exact=True).fill("project:search")
    page.get_by_role("button", name="Save budget").click()
    wait_idle(page)
    assert_no_errors(page)

    card = page.locator(".st-key-budgets_card_1")
    expect(card.get_by_text("Team", exact=True)).to_be_visible()
    expect(card.get_by_text("Month-end forecast")).to_be_visible()
    expect(card.locator('[role="progressbar"]')).to_have_count(1)
    chart = page.locator('[data-testid="stVegaLiteChart"]').first
    expect(chart.locator("svg.marks")).to_be_visible()
    # the budget line is labelled with its amount, each threshold with its percent
    labels = chart.locator("g.mark-text text")
    expect(labels.filter(has_text="budget $15")).to_have_count(1)
    expect(labels.filter(has_text="50 %")).to_have_count(1)
    legend = " ".join(chart.locator("g.role-legend text").all_text_contents())
    assert all(name in legend for name in ("actual", "forecast", "90 % interval")), legend
    expect(page.get_by_text("same weekday")).to_be_visible()
    shot(page, "budgets_journey_card")

    # opening the page stores nothing: the alert waits for a check
    assert list_events(make_engine(spend_url)) == []
    expect(page.get_by_text("Past a threshold but not checked yet")).to_be_visible()
    page.get_by_role("button", name="Check now").click()
    wait_idle(page)
    assert_no_errors(page)
    expect(page.get_by_text("Checked as of")).to_be_visible()
    # One row for the budget's thresholds, however many it passed (this month's $10 a day
    # against $15: on the first day 67 %, past 50 % only; from the second day past all four),
    # and one for the month-end forecast while the budget is not yet spent.
    fired = list_events(make_engine(spend_url))
    assert {e.subject for e in fired} == {"Team"}
    assert {e.kind for e in fired} <= {"budget", "forecast"}
    spent_pct = 10 * datetime.now(UTC).day * 100 / 15
    passed = [t for t in DEFAULT_THRESHOLDS if spent_pct >= t]
    assert sorted(int(e.threshold) for e in fired if e.kind == "budget") == passed
    rows = len({e.kind for e in fired})
    buttons = page.get_by_role("button", name="Acknowledge")
    expect(buttons).to_have_count(rows)
    for left in range(rows, 0, -1):
        buttons.first.click()
        wait_idle(page)
        assert_no_errors(page)
        expect(buttons).to_have_count(left - 1)
    expect(page.get_by_text("Acknowledged", exact=False).first).to_be_visible()
    # each row's acknowledgement covered every event it stands for
    acked = list_events(make_engine(spend_url), acknowledged=True)
    assert len(acked) == len(fired)
    assert list_events(make_engine(spend_url), acknowledged=False) == []
    make_engine.cache_clear()
    shot(page, "budgets_journey_acknowledged")
