"""An engineer drops two log files in the browser, reads the report and sees the Usage charts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
from playwright.sync_api import expect

from tests.e2e.helpers import assert_no_errors, goto, shot, wait_idle


def _records(prefix: str, days: int) -> list[dict]:
    now = datetime.now(UTC).replace(microsecond=0)
    return [
        {"timestamp": (now - timedelta(days=d, hours=1)).isoformat().replace("+00:00", "Z"),
         "request_id": f"{prefix}-{d}", "model": "gpt-4o-mini" if d % 2 else "gpt-4o",
         "input_tokens": 2000, "output_tokens": 300, "latency_ms": 700 + 10 * d,
         "status": 429 if d == 3 else 200, "project": "search", "feature": "chat"}
        for d in range(days)
    ]  # fmt: skip


def test_upload_two_files_then_see_usage(page, app_server, tmp_path) -> None:
    base = app_server(f"sqlite:///{tmp_path / 'journey.db'}")
    first = tmp_path / "api.jsonl"
    first.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in _records("a", 10)))
    second = tmp_path / "worker.jsonl"
    bad = {"timestamp": "2025-06-01T10:00:00", "request_id": "w-bad", "model": "gpt-4o",
           "input_tokens": 1, "output_tokens": 1}  # fmt: skip
    second.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in [*_records("w", 5), bad]))

    goto(page, f"{base}/usage")
    expect(page.get_by_text("No requests stored yet")).to_be_visible()

    goto(page, f"{base}/upload")
    assert_no_errors(page)
    expect(page.get_by_text("No uploads yet")).to_be_visible()
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(
        [str(first), str(second)]
    )
    wait_idle(page)
    page.get_by_role("button", name="Ingest 2 files").click()
    wait_idle(page)
    assert_no_errors(page)
    accepted = page.locator('[data-testid="stMetric"]', has_text="Accepted")
    expect(accepted.locator('[data-testid="stMetricValue"]')).to_have_text("15")
    rejected = page.locator('[data-testid="stMetric"]', has_text="Rejected")
    expect(rejected.locator('[data-testid="stMetricValue"]')).to_have_text("1")
    expect(page.get_by_text("Rejected records (1)")).to_be_visible()
    expect(page.get_by_role("button", name="Download rejected lines (CSV)")).to_be_visible()
    expect(page.get_by_text("No uploads yet")).to_have_count(0)
    shot(page, "upload_journey_report")

    goto(page, f"{base}/usage")
    assert_no_errors(page)
    expect(page.get_by_text("No requests stored yet")).to_have_count(0)
    expect(page.locator('[data-testid="stVegaLiteChart"] svg.marks').first).to_be_visible()
    shot(page, "upload_journey_usage")
