"""Browser helpers: wait for Streamlit to settle, screenshot, and fail on any error shown."""

from __future__ import annotations

import time
from pathlib import Path

from playwright.sync_api import Page

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

_IDLE = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app) return false;
  const state = app.getAttribute('data-test-script-state');
  const conn = app.getAttribute('data-test-connection-state');
  if (state !== 'notRunning' && state !== 'compilationError') return false;
  if (conn && conn !== 'CONNECTED') return false;
  if (document.querySelector('[data-testid="stAppSkeleton"], [data-testid="stSpinner"]')) return false;
  // Charts in hidden tabs and tables in closed expanders never draw (a closed <details> keeps
  // its content laid out but not rendered: only checkVisibility() says so).
  const shown = (el) => el.offsetParent !== null && el.checkVisibility();
  for (const el of document.querySelectorAll('[data-testid="stVegaLiteChart"]'))
    if (shown(el) && !el.querySelector('svg.marks, canvas.marks')) return false;
  for (const el of document.querySelectorAll('[data-testid="stDataFrame"]'))
    if (shown(el) && !el.querySelector('canvas')) return false;
  return true;
}"""

_QUIET = """() => {
  if (!window.__cdObserver) {
    window.__cdLast = performance.now();
    window.__cdObserver = new MutationObserver(() => { window.__cdLast = performance.now(); });
    window.__cdObserver.observe(document.documentElement,
      {subtree: true, childList: true, attributes: true, characterData: true});
  }
  return performance.now() - window.__cdLast;
}"""


def wait_idle(page: Page, timeout_s: float = 45.0) -> None:
    """Wait until the script run is over, lazy widgets have drawn and the DOM is quiet."""
    page.wait_for_timeout(300)
    page.wait_for_function(_IDLE, timeout=timeout_s * 1000)
    deadline = time.monotonic() + 10
    while page.evaluate(_QUIET) < 400 and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    page.wait_for_function(_IDLE, timeout=timeout_s * 1000)


def goto(page: Page, url: str) -> None:
    """Open `url` (a new Streamlit session) and wait for it to settle."""
    page.goto(url, wait_until="domcontentloaded")
    wait_idle(page)


def shot(page: Page, name: str) -> Path:
    """Save a full-height screenshot of the main area to test-artifacts/screenshots/."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate(
        "() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
        " return m ? Math.max(m.scrollHeight, 900) : 900; }"
    )
    size = page.viewport_size or {"width": 1280, "height": 900}
    page.set_viewport_size({"width": size["width"], "height": min(int(height), 12000)})
    wait_idle(page)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    return path


def errors_on_page(page: Page) -> list[str]:
    """Exception boxes, error boxes and console errors seen on this page."""
    found = [
        "exception: " + el.inner_text()[:300]
        for el in page.query_selector_all('[data-testid="stException"]')
    ]
    found += [
        "error box: " + el.inner_text()[:300]
        for el in page.query_selector_all('[data-testid="stAlertContentError"]')
    ]
    found += [f"console: {msg}" for msg in getattr(page, "console_errors", [])]
    return found


def assert_no_errors(page: Page, *, allow_error_boxes: bool = False) -> None:
    """Fail on any exception box, console error, or (unless allowed) st.error box."""
    problems = [
        p for p in errors_on_page(page) if allow_error_boxes is False or not p.startswith("error")
    ]
    assert not problems, "\n".join(problems)
