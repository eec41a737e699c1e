"""A new user's first contact with Routing and the Cost calculator in a real browser.

Logged traffic: 1,000 gpt-4o calls (1,600 in / 400 out, $8.00) and 500 text-embedding-3-small
calls (1,000 in, $0.01). The user first clicks "Add rule" on the untouched form and is told to
choose a source model; picks gpt-4o, finds its smaller sibling gpt-4o-mini preselected, adds
the rule and sees only gpt-4o traffic move. Then, on the calculator, saves two scenarios, saves
over one of them (asked first), and compares them with every assumption beside the results.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from db.engine import make_engine
from db.ingest import ingest_records
from tests.actors import ADMIN
from tests.e2e.helpers import assert_no_errors, goto, shot, wait_idle


def _seed(url: str) -> None:
    def record(i: int, model: str, inp: int, out: int) -> dict:
        return {
            "timestamp": f"2025-05-0{1 + i % 2}T09:{i // 60 % 60:02d}:{i % 60:02d}Z",
            "request_id": f"{model}-{i}",
            "model": model,
            "project": "bot",
            "input_tokens": inp,
            "output_tokens": out,
        }

    records = [record(i, "gpt-4o-2024-08-06", 1600, 400) for i in range(1000)]
    records += [record(i, "text-embedding-3-small", 1000, 0) for i in range(500)]
    engine = make_engine(url)
    assert (
        ingest_records(engine, records, source="journey", file_name="j.jsonl", actor=ADMIN).accepted
        == 1500
    )
    engine.dispose()
    make_engine.cache_clear()


def _metric(page: Page, label: str):
    return page.locator('[data-testid="stMetric"]').filter(has_text=label).first


def _choose(page: Page, label: str, option: str) -> None:
    select = page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first
    select.click()
    page.keyboard.type(option)
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)


def _routing(page: Page, base: str) -> None:
    goto(page, f"{base}/routing")
    expect(_metric(page, "Baseline (2 days)")).to_contain_text("$8.01")  # 8.00 + 0.01
    page.get_by_role("button", name="Add rule").click()
    wait_idle(page)
    expect(page.get_by_text("choose the model it takes traffic from")).to_be_visible()
    expect(page.get_by_text("No rules yet")).to_be_visible()

    _choose(page, "Move traffic from", "gpt-4o")
    route_to = page.get_by_role("combobox", name="Route to")
    expect(route_to).to_have_value("gpt-4o-mini · smaller sibling")
    page.get_by_role("button", name="Add rule").click()
    wait_idle(page)
    rule = "gpt-4o, input ≤ 2,000 → gpt-4o-mini 67 % escalate 5 %"
    expect(page.get_by_text(rule).first).to_be_visible()
    # gpt-4o: 0.33 x 8.00 + 0.67 x (0.48 + 0.05 x 8.00) = $3.2296, saving $4.7704; the
    # embeddings stay at $0.01: 3.2296 + 0.01 = $3.2396.
    expect(_metric(page, "With the rules")).to_contain_text("$3.24")
    expect(_metric(page, "Savings")).to_contain_text("$4.77")
    grid = page.locator('[data-testid="stDataFrame"]').nth(1)
    expect(grid.locator("td", has_text="text-embedding-3-small")).to_have_count(1)
    assert_no_errors(page, allow_error_boxes=False)
    shot(page, "first_contact_routing_rule")


def _fill(page: Page, label: str, value: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")
    wait_idle(page)


def _save(page: Page, name: str) -> None:
    _fill(page, "Scenario name", name)
    page.get_by_role("button", name="Save scenario").click()
    wait_idle(page)


def _scenarios(page: Page, base: str) -> None:
    goto(page, f"{base}/calculator")
    page.get_by_role("tab", name="Scenarios").click()
    wait_idle(page)
    _save(page, "Launch")
    expect(page.get_by_text("Saved scenario “Launch”.")).to_be_visible()
    _fill(page, "Cache-hit share %", "50")
    _save(page, "Cached")
    _fill(page, "Requests per day", "1000")
    _save(page, "Cached")
    expect(page.get_by_text("“Cached” is already saved. Replace it")).to_be_visible()
    page.get_by_role("button", name="Replace").click()
    wait_idle(page)
    expect(page.get_by_text("Saved scenario “Cached”.")).to_be_visible()

    compare = page.get_by_role("combobox", name="Compare 2 to 4 scenarios")
    for name in ("Cached", "Launch"):
        compare.click()
        compare.fill("")
        page.keyboard.type(name)
        page.get_by_role("option", name=name, exact=True).click()
        wait_idle(page)
    page.keyboard.press("Escape")
    wait_idle(page)
    expect(
        page.get_by_text("The scenarios differ in requests per day, cache-hit share")
    ).to_be_visible()
    # Cached: 1,000/day, 800 of 1,600 input tokens cached -> 24M x 2.50 + 24M x 1.25 + 12M x 10
    # = $60 + $30 + $120 = $210.00; Launch: $120.00.
    grid = page.locator('[data-testid="stDataFrame"]').first
    for header in ("Prices as of", "Requests / day", "Input tokens", "Cache-hit share"):
        expect(grid.get_by_text(header, exact=True)).to_have_count(1)
    cells = grid.locator('[role="gridcell"]').all_inner_texts()
    assert {"Cached", "Launch", "210", "120", "no cap"} <= set(cells)
    expect(page.get_by_role("button", name="Download CSV")).to_be_visible()
    assert_no_errors(page)
    shot(page, "first_contact_scenarios")


def test_a_new_user_adds_a_rule_and_compares_scenarios(
    page: Page, app_server, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'first.db'}"
    _seed(url)
    base = app_server(url)
    _routing(page, base)
    _scenarios(page, base)
