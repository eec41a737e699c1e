"""Reconciliation in headless Chromium: import from a local OpenAI stand-in, then compare."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.actors import ADMIN
from tests.e2e.helpers import assert_no_errors, goto, shot, wait_idle
from tests.integrations.fake_openai import FakeOpenAI, bucket, cost_result, usage_result

MINI = "gpt-4o-mini-2024-07-18"
DAYS = [date(2026, 11, 10) + timedelta(days=n) for n in range(3)]


@pytest.fixture
def api(monkeypatch):
    fake = FakeOpenAI()
    url = fake.start()
    # Each day 10 calls of 1000 in / 500 out = $0.0045; day 3 OpenAI counted 12 calls.
    counts = [10, 10, 12]
    fake.pages["/organization/usage/completions"] = [
        [
            bucket(d, [usage_result(MINI, n, n * 1000, n * 500)])
            for d, n in zip(DAYS, counts, strict=True)
        ]
    ]
    fake.pages["/organization/costs"] = [
        [bucket(d, [cost_result(f"{MINI}, input", n * 1000 * 0.15 / 1e6),
                    cost_result(f"{MINI}, output", n * 500 * 0.6 / 1e6)])
         for d, n in zip(DAYS, counts, strict=True)]
    ]  # fmt: skip
    monkeypatch.setenv("OPENAI_ADMIN_KEY", "sk-admin-e2e")
    monkeypatch.setenv("COSTDESK_OPENAI_BASE_URL", url)
    yield fake
    fake.stop()


@pytest.fixture
def logged_url(tmp_path) -> str:
    from db.engine import make_engine
    from db.ingest import ingest_records

    url = f"sqlite:///{tmp_path / 'reconcile-e2e.db'}"
    records = [
        {"timestamp": f"{d}T09:00:{i:02d}Z", "request_id": f"r{d}{i}", "model": MINI,
         "input_tokens": 1000, "output_tokens": 500}
        for d in DAYS for i in range(10)
    ]  # fmt: skip
    ingest_records(make_engine(url), records, source="app", file_name="app.jsonl", actor=ADMIN)
    make_engine(url).dispose()
    make_engine.cache_clear()
    return url


def test_import_then_see_the_flagged_day(page, app_server, api, logged_url):
    base = app_server(logged_url)
    goto(page, f"{base}/reconcile")
    assert page.locator("h1").first.inner_text().strip() == "Reconciliation"
    assert "Nothing to reconcile yet" in page.locator('[data-testid="stMain"]').inner_text()
    assert_no_errors(page)
    page.get_by_role("button", name="Import from OpenAI").click()
    page.get_by_text("Imported 3 usage rows").wait_for(timeout=30_000)
    page.get_by_text("Differences over 2 %").wait_for(timeout=30_000)
    wait_idle(page)
    assert_no_errors(page)
    body = page.locator('[data-testid="stMain"]').inner_text()
    assert "Differences over 2 %" in body
    page.locator('[data-testid="stVegaLiteChart"] svg.marks').first.wait_for(timeout=30_000)
    assert page.locator('[data-testid="stDataFrame"]').count() >= 1
    assert {r.path for r in api.requests} == {
        "/v1/organization/usage/completions",
        "/v1/organization/costs",
    }
    shot(page, "reconcile_imported")


def test_an_empty_page_explains_itself_and_loads_a_sample(page, app_server, tmp_path, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_ADMIN_KEY", raising=False)
    base = app_server(f"sqlite:///{tmp_path / 'reconcile-sample.db'}")
    goto(page, f"{base}/reconcile")
    page.get_by_text("Anthropic", exact=True).click()
    page.get_by_text("what Anthropic counted and billed").wait_for(timeout=30_000)
    page.get_by_role("button", name="Import from Anthropic").click()
    page.get_by_text("No Anthropic admin key is configured yet").wait_for(timeout=30_000)
    assert_no_errors(page)
    page.get_by_role("button", name="Load sample Anthropic pages").click()
    page.get_by_text("Differences over 2 %").wait_for(timeout=30_000)
    page.get_by_text("Show all 4 rows").wait_for(timeout=30_000)  # the table comes last
    wait_idle(page)
    assert_no_errors(page)
    body = page.locator('[data-testid="stMain"]').inner_text()
    assert "Billed by Anthropic" in body and "Show all 4 rows" in body  # 3 days + web search
    shot(page, "reconcile_anthropic_sample")
