"""A finance user's journey on the Cost calculator in a real browser.

Sets the classic example (500 requests/day, 1,600 in / 400 out on gpt-4o), sees $120.00 a month,
saves it as a scenario, saves the gpt-4o-mini variant ($7.20), compares both side by side, and
reopens the shared link in a fresh session to see the same numbers.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.helpers import assert_no_errors, goto, shot, wait_idle


def _fill(page: Page, label: str, value: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")
    wait_idle(page)


def _choose_model(page: Page, option: str) -> None:
    select = page.locator('[data-testid="stSelectbox"]').filter(has_text="Model").first
    select.click()
    page.keyboard.type(option.split(" · ")[1])
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)


def _metric(page: Page, label: str):
    return page.locator('[data-testid="stMetric"]').filter(has_text=label).first


def _save_scenario(page: Page, name: str) -> None:
    _fill(page, "Scenario name", name)
    page.get_by_role("button", name="Save scenario").click()
    wait_idle(page)
    expect(page.get_by_text(f"Saved scenario “{name}”.")).to_be_visible()


def test_plan_save_compare_and_share(page: Page, app_server, tmp_path: Path) -> None:
    base = app_server(f"sqlite:///{tmp_path / 'journey.db'}")
    goto(page, f"{base}/calculator")
    _choose_model(page, "openai · gpt-4o")
    _fill(page, "Requests per day", "500")
    _fill(page, "Avg input tokens", "1600")
    _fill(page, "Avg output tokens", "400")
    # 24M input tokens x $2.50/M + 6M output tokens x $10/M = $60 + $60
    expect(_metric(page, "Per month")).to_contain_text("$120.00")
    shared_gpt4o = page.url
    assert "model=openai%2Fgpt-4o&" in shared_gpt4o + "&" and "rpd=500" in shared_gpt4o

    page.get_by_role("tab", name="Scenarios").click()
    wait_idle(page)
    expect(page.get_by_text("No saved scenarios yet")).to_be_visible()
    _save_scenario(page, "Classic on gpt-4o")

    _choose_model(page, "openai · gpt-4o-mini")
    expect(_metric(page, "Per month")).to_contain_text("$7.20")  # 24M x 0.15 + 6M x 0.60
    shared_mini = page.url
    _save_scenario(page, "Classic on gpt-4o-mini")

    compare = page.get_by_role("combobox", name="Compare 2 to 4 scenarios")
    for name in ("Classic on gpt-4o", "Classic on gpt-4o-mini"):
        compare.click()
        compare.fill("")
        page.keyboard.type(name)
        page.get_by_role("option", name=name, exact=True).click()
        wait_idle(page)
    page.keyboard.press("Escape")
    wait_idle(page)
    cells = page.locator('[data-testid="stDataFrame"] [role="gridcell"]').all_inner_texts()
    assert "Classic on gpt-4o" in cells and "Classic on gpt-4o-mini" in cells
    assert "120" in cells and "7.2" in cells  # monthly column: raw values behind "$120.00"
    compared = page.locator('[data-testid="stVegaLiteChart"]').last
    expect(compared).to_be_visible()
    # the chart writes each scenario's total above its bar: $60 + $60 and $3.60 + $3.60
    totals = compared.locator("g.mark-text text").all_text_contents()
    assert "$120.00" in totals and "$7.20" in totals
    assert compared.locator("g.mark-rect path").count() == 2 * 3  # two bars, three parts each
    expect(page.get_by_role("button", name="Download Excel")).to_be_visible()
    assert_no_errors(page)
    shot(page, "calculator_compare")
    shared_compare = page.url
    assert "calc_tab=Scenarios" in shared_compare and "calc_scn_compare=" in shared_compare

    fresh = page.context.new_page()
    fresh.console_errors = []
    goto(fresh, shared_gpt4o)
    expect(_metric(fresh, "Per month")).to_contain_text("$120.00")
    expect(_metric(fresh, "Per day")).to_contain_text("$4.00")
    expect(fresh.get_by_role("combobox", name="Model")).to_have_value("openai · gpt-4o")
    goto(fresh, shared_mini)
    expect(_metric(fresh, "Per month")).to_contain_text("$7.20")
    goto(fresh, shared_compare)  # the comparison itself is in the link too
    cells = fresh.locator('[data-testid="stDataFrame"] [role="gridcell"]').all_inner_texts()
    assert {"Classic on gpt-4o", "Classic on gpt-4o-mini", "120", "7.2"} <= set(cells)
    assert_no_errors(fresh)
    shot(fresh, "calculator_shared_link")
