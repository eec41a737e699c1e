"""Labels from logs shown as text in the browser: no image fetched, no link or tag rendered."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from tests.actors import ADMIN
from tests.e2e.helpers import assert_no_errors, goto, shot, wait_idle
from ui.format import WORD_JOINER

TABS = ("Tokens & caching", "Errors & latency", "Cost of failure", "max_tokens audit", "Cost")


@pytest.fixture
def recorder() -> Iterator[tuple[int, list[str]]]:
    """A loopback HTTP server that records every request it gets: (port, request lines)."""
    received: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            received.append(self.requestline)  # called for every answer, whatever the method

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], received
    server.shutdown()
    server.server_close()


def seen(text: str) -> str:
    """Text as a reader sees it: the word joiner that keeps a bare URL from linking is invisible."""
    return text.replace(WORD_JOINER, "")


def _store(url: str, model: str, project: str) -> None:
    from db.engine import make_engine
    from db.ingest import ingest_records

    now = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    record = {"timestamp": now, "request_id": "hostile-1", "model": model, "input_tokens": 900,
              "output_tokens": 120, "latency_ms": 640, "project": project}  # fmt: skip
    report = ingest_records(
        make_engine(url), [record], source="probe", file_name="probe.jsonl", actor=ADMIN
    )
    assert report.accepted == 1
    make_engine.cache_clear()


def test_a_markdown_model_name_fetches_nothing_and_reads_as_text(
    page, app_server, recorder, tmp_path
) -> None:
    port, received = recorder
    model = f"![x](http://127.0.0.1:{port}/pixel.png)"
    project = f'<a href="http://127.0.0.1:{port}/link">team</a>'
    url = f"sqlite:///{tmp_path / 'hostile.db'}"
    _store(url, model, project)

    goto(page, f"{app_server(url)}/usage")
    warning = page.locator('[data-testid="stAlertContentWarning"]').first
    expect(warning).to_contain_text("Unpriced models: ", timeout=60_000)
    assert f"Unpriced models: {model} (1 request)" in seen(warning.inner_text())
    assert warning.locator("a, img").count() == 0  # not even the bare URL is a link
    for tab in TABS:  # every tab drawn once, its figures and tables included
        page.get_by_role("tab", name=tab, exact=True).click()
        wait_idle(page)
    assert_no_errors(page)
    main = page.locator('[data-testid="stMain"]')
    assert main.locator("img").count() == 0
    charts = main.locator('[data-testid="stVegaLiteChart"] svg')
    assert main.locator('[data-testid="stVegaLiteChart"] svg a').count() == 0  # no real link
    figures = " ".join(charts.all_text_contents())  # the Cost tab's
    assert project in figures and model in figures
    page.get_by_role("tab", name="max_tokens audit", exact=True).click()  # drawn when opened
    wait_idle(page)
    audit = page.locator('[data-testid="stTable"]').last
    assert model in seen(audit.inner_text()) and audit.locator("a").count() == 0
    shot(page, "hostile_labels_usage")
    page.wait_for_timeout(500)  # a late image request would still arrive
    assert received == []
