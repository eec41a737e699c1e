"""A real Streamlit server and a real headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.server import CHROMIUM, CHROMIUM_ARGS, ServerError, start_app, stop_app


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing; `make test` installs Debian's chromium")
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    """A fresh page that records console errors in `page.console_errors`."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.console_errors = []

    def on_console(msg) -> None:
        text = msg.text
        # The frontend probes /<page>/_stcore/* on sub-paths before falling back: harmless 404s.
        if msg.type == "error" and "404" not in text and "favicon" not in text:
            pg.console_errors.append(text)

    pg.on("console", on_console)
    pg.on("pageerror", lambda exc: pg.console_errors.append(f"page error: {exc}"))
    yield pg
    context.close()


@pytest.fixture
def app_server(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Start `streamlit run app.py` against a database URL; returns its base URL."""
    servers = []

    def start(db_url: str) -> str:
        try:
            proc, base_url = start_app(db_url, tmp_path / f"streamlit-{len(servers)}.log")
        except ServerError as exc:
            pytest.fail(str(exc))
        servers.append(proc)
        return base_url

    yield start
    for proc in servers:
        stop_app(proc)
