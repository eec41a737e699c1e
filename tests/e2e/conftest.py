"""A real Streamlit server and a real headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("COSTDESK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--no-proxy-server",
]
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(base_url: str) -> bool:
    try:
        with _NO_PROXY.open(f"{base_url}/_stcore/health", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


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
    servers: list[subprocess.Popen] = []

    def start(db_url: str) -> str:
        port = _free_port()
        env = {**os.environ, "COSTDESK_DATABASE_URL": db_url, "PYTHONUNBUFFERED": "1"}
        log = open(tmp_path / f"streamlit-{port}.log", "w")  # noqa: SIM115
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(ROOT / "app.py"),
                "--server.headless",
                "true",
                "--server.address",
                "127.0.0.1",
                "--server.port",
                str(port),
                "--browser.gatherUsageStats",
                "false",
                "--server.fileWatcherType",
                "none",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        servers.append(proc)
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while not _healthy(base_url):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"streamlit did not start: {(tmp_path / f'streamlit-{port}.log').read_text()}"
                )
            time.sleep(0.2)
        return base_url

    yield start
    for proc in servers:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
