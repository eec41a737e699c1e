"""A real `streamlit run app.py` on a free loopback port, and how to launch Debian's Chromium.

Used by the browser tests' fixtures (tests/e2e/conftest.py) and the page benchmark
(bench/pages.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from tests.pgcluster import free_port

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


class ServerError(RuntimeError):
    """Streamlit did not come up; the message holds its log."""


def healthy(base_url: str) -> bool:
    """Whether the server at `base_url` answers its health check."""
    try:
        with _NO_PROXY.open(f"{base_url}/_stcore/health", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def start_app(
    db_url: str,
    log_path: Path,
    timeout_s: float = 60,
    *,
    port: int | None = None,
    extra_args: Sequence[str] = (),
) -> tuple[subprocess.Popen, str]:
    """Start `streamlit run app.py` on `db_url`, logging to `log_path`; (process, base URL).
    `port` (default: a free one) and `extra_args` (e.g. `--secrets.files PATH`) are optional."""
    port = port or free_port()
    env = {**os.environ, "COSTDESK_DATABASE_URL": db_url, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
               "--server.headless", "true", "--server.address", "127.0.0.1",
               "--server.port", str(port), "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none", *extra_args]  # fmt: skip
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while not healthy(base_url):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_app(proc)
            raise ServerError(f"streamlit did not start: {log_path.read_text()}")
        time.sleep(0.2)
    return proc, base_url


def stop_app(proc: subprocess.Popen) -> None:
    """Stop a server started by `start_app`."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
