"""First contact in headless Chromium, on demo traffic: an upload that says what it stored and
opens Usage on those days, a model budget equal to the month's spend on that model, the month's
spike on the default Budgets view (opening it stores nothing), and a bar clicked open into the
requests behind it."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import orjson
import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from db.demo import load_demo
from db.engine import make_engine
from db.ingest import ingest_records
from integrations.alerting import check_alerts
from tests.actors import ADMIN
from tests.e2e.helpers import assert_no_errors, goto, shot, wait_idle

DEMO_DAYS = 10  # the demo's spike falls on its 8th day: two days before the last


def _money(picos: int) -> str:
    """Pico-dollars as the page shows them, computed here on its own: $1,234.57."""
    usd = (Decimal(picos) / 10**12).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return f"${usd:,}"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    """Ten days of demo traffic up to today, two calls logged as plain `gpt-4o` today, and the
    alert check the `demo` command runs after loading."""
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    engine = make_engine(f"sqlite:///{path}")
    today = datetime.now(UTC).date()
    load_demo(engine, days=DEMO_DAYS, end_day=today, actor=ADMIN)
    calls = [
        {"timestamp": f"{today}T00:00:{i:02d}Z", "request_id": f"plain-{i}", "model": "gpt-4o",
         "input_tokens": 100_000, "output_tokens": 10_000, "project": "copilot"}
        for i in range(2)
    ]  # fmt: skip
    assert (
        ingest_records(engine, calls, source="app", file_name="plain.jsonl", actor=ADMIN).accepted
        == 2
    )
    check_alerts(engine, actor=ADMIN)
    engine.dispose()
    make_engine.cache_clear()
    return path


@pytest.fixture
def demo_url(demo_db: Path, tmp_path: Path) -> str:
    """A fresh copy of the demo database for one test."""
    copy = tmp_path / "demo.db"
    shutil.copy(demo_db, copy)
    return f"sqlite:///{copy}"


def _scalar(url: str, sql: str, **params: object) -> int:
    with make_engine(url).connect() as conn:
        value = conn.execute(text(sql), params).scalar_one()
    return int(value or 0)


def _metric(page, label: str, within: str = "") -> str:
    card = page.locator(f"{within} [data-testid='stMetric']".strip(), has_text=label).first
    return card.locator("[data-testid='stMetricValue']").inner_text().strip()


def test_an_upload_says_what_it_stored_and_opens_usage_on_those_days(
    page, app_server, demo_url, tmp_path
) -> None:
    calls = [
        {"timestamp": f"2026-01-{day}T{9 + i:02d}:15:00Z", "request_id": f"jan-{day}-{i}",
         "model": "gpt-4o" if i % 2 == 0 else "gpt-4o-mini", "project": "helpdesk",
         "input_tokens": 200_000, "output_tokens": 40_000}
        for day, count in ((14, 4), (15, 3), (16, 2))
        for i in range(count)
    ]  # fmt: skip
    sample = tmp_path / "january.jsonl"
    sample.write_bytes(b"".join(orjson.dumps(c) + b"\n" for c in calls))
    # gpt-4o: 200,000 × $2.50 + 40,000 × $10 per 1M = 0.50 + 0.40 = $0.90 a call, 5 calls
    # gpt-4o-mini: 200,000 × $0.15 + 40,000 × $0.60 per 1M = 0.03 + 0.024 = $0.054, 4 calls
    # 5 × 0.90 + 4 × 0.054 = 4.50 + 0.216 = $4.716
    base = app_server(demo_url)
    goto(page, f"{base}/upload")
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(sample))
    wait_idle(page)
    page.get_by_role("button", name="Ingest 1 file").click()
    wait_idle(page)
    assert_no_errors(page)
    expect(page.get_by_text("Stored 9 requests from 14 – 16 Jan 2026")).to_be_visible()
    expect(page.get_by_text("models gpt-4o, gpt-4o-mini · project helpdesk")).to_be_visible()
    expect(page.get_by_text("14 – 16 Jan 2026", exact=True).first).to_be_visible()  # history
    shot(page, "first_contact_upload_report")

    page.get_by_role("link", name="Open Usage on 14 – 16 Jan 2026").click()
    wait_idle(page)
    assert_no_errors(page)
    assert "from=2026-01-14" in page.url and "to=2026-01-16" in page.url
    expect(page.get_by_text("14 – 16 Jan 2026 (UTC)")).to_be_visible()
    assert _metric(page, "Spend") == "$4.72"
    assert _metric(page, "Requests") == "9"
    shot(page, "first_contact_usage_on_the_upload")


def test_a_model_budget_shows_the_months_spend_on_every_name_of_the_model(
    page, app_server, demo_url
) -> None:
    first = datetime.now(UTC).date().replace(day=1)
    spent = _scalar(
        demo_url,
        "SELECT SUM(cost_pusd) FROM request_log WHERE model IN ('gpt-4o', 'gpt-4o-2024-08-06') "
        "AND ts >= :first",
        first=datetime.combine(first, datetime.min.time()),
    )
    plain = _scalar(demo_url, "SELECT count(*) FROM request_log WHERE model = 'gpt-4o'")
    dated = _scalar(
        demo_url,
        "SELECT count(*) FROM request_log WHERE model = 'gpt-4o-2024-08-06' AND ts >= :first",
        first=datetime.combine(first, datetime.min.time()),
    )
    assert plain == 2 and dated > 0 and spent > 0  # both names spent money this month
    base = app_server(demo_url)
    goto(page, f"{base}/budgets")
    page.get_by_label("Name").fill("GPT-4o")
    page.get_by_label("Monthly amount").fill("100000")
    page.get_by_role("textbox", name="Scope", exact=True).fill("model:gpt-4o-2024-08-06")
    page.get_by_role("button", name="Save budget").click()
    wait_idle(page)
    assert_no_errors(page)
    card = ".st-key-budgets_card_1"
    expect(page.locator(card).get_by_text("model:gpt-4o", exact=False).first).to_be_visible()
    assert _metric(page, "Spent", card) == _money(spent)
    shot(page, "first_contact_model_budget")


def test_the_months_spike_is_on_the_default_budgets_view_and_opening_it_stores_nothing(
    page, app_server, demo_url
) -> None:
    today = datetime.now(UTC).date()
    spike = today - timedelta(days=2)  # the demo's spike day (see DEMO_DAYS)
    if spike.month != today.month:
        pytest.skip("on the first two days of a month the demo's spike is last month's")
    tables = ("alert_event", "alert_rule", "budget")
    before = {t: _scalar(demo_url, f"SELECT count(*) FROM {t}") for t in tables}
    assert before["alert_event"] > 0  # the demo's check stored the month's alerts
    base = app_server(demo_url)
    goto(page, f"{base}/budgets")
    goto(page, f"{base}/budgets")  # twice: a second visit writes nothing either
    assert_no_errors(page)
    row = page.locator("[class*='st-key-budgets_alert_']", has_text="Cost spike")
    expect(row).to_have_count(1)
    expect(row.get_by_text(f"latest {spike.day} {spike:%b %Y}", exact=False)).to_be_visible()
    expect(
        row.get_by_role("link", name=f"See the requests of {spike.day} {spike:%b %Y}")
    ).to_be_visible()
    assert {t: _scalar(demo_url, f"SELECT count(*) FROM {t}") for t in tables} == before
    shot(page, "first_contact_budgets_default")


def _picked(boxes, label: str) -> str:
    """The shown value of the select box labelled `label` among `boxes`."""
    box = boxes.filter(
        has=boxes.page.locator("[data-testid='stWidgetLabel']", has_text=re.compile(f"^{label}$"))
    )
    return box.first.locator("input").input_value()


def test_a_clicked_bar_opens_the_requests_behind_it(page, app_server, demo_url) -> None:
    base = app_server(demo_url)
    goto(page, f"{base}/usage")
    daily = page.locator("[data-testid='stVegaLiteChart']").first  # daily spend by model
    bars = daily.locator("g.mark-rect path")
    heights = bars.evaluate_all("paths => paths.map(p => p.getBBox().height)")
    tallest = bars.nth(heights.index(max(heights)))  # nothing covers its middle
    # the bar names itself to screen readers: "...; Day: Tue 03 Nov 2026; Model: gpt-4o; ..."
    label = dict(part.split(": ", 1) for part in tallest.get_attribute("aria-label").split("; "))
    tallest.click()
    wait_idle(page)
    assert_no_errors(page)
    expect(page.get_by_text("Top users by spend")).to_be_visible()
    drill_boxes = page.locator("[role='tabpanel'] [data-testid='stSelectbox']")
    day_text = _picked(drill_boxes, "Day")
    model = _picked(drill_boxes, "Model").strip()
    day = datetime.strptime(day_text.split(" · ")[0].strip()[4:], "%d %b %Y").date()
    assert (day, model) == (datetime.strptime(label["Day"], "%a %d %b %Y").date(), label["Model"])
    requests = _scalar(
        demo_url,
        "SELECT SUM(requests) FROM daily_rollup WHERE day = :day AND model_id = :model",
        day=day,
        model=model,
    )
    cost = _scalar(
        demo_url,
        "SELECT SUM(cost_pusd) FROM daily_rollup WHERE day = :day AND model_id = :model",
        day=day,
        model=model,
    )
    assert requests > 0
    drill = "[role='tabpanel']"
    assert _metric(page, "Requests", drill) == f"{requests:,}"
    assert _metric(page, "Spend", drill) == _money(cost)
    shot(page, "first_contact_drill_down")
